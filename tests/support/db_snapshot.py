"""A fingerprint of every table's content, to prove a refused request wrote nothing.

Why whole contents and not row counts: a partial write is as likely to change a column (a
half-applied PATCH) as to add a row. The tables are the models' metadata, so a table added
later is covered without touching this file. Meant for the small databases of API tests.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

import store.models  # noqa: F401  (registers every table on the metadata)
from store.base import Base

# "window" and friends are reserved words: every table name is quoted.
_PG_SQL = " UNION ALL ".join(
    f"SELECT '{t.name}', count(*) || ':' || md5(coalesce(string_agg(r::text, '|' "
    f"ORDER BY r::text), '')) FROM \"{t.name}\" AS r" for t in Base.metadata.sorted_tables)


def fingerprint(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Table name -> "<row count>:<hash of the sorted rows>", read in one transaction.

    On PostgreSQL the server hashes every table in one statement (a fuzz run takes this
    hundreds of times; a query per table would cost more than the request under test).
    """
    prints: dict[str, str] = {}
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            return {str(name): str(value) for name, value in session.execute(text(_PG_SQL))}
        for table in Base.metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in session.execute(select(table)))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            prints[table.name] = f"{len(rows)}:{digest}"
    return prints


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tables whose content differs, for an assertion message that says where."""
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))
