"""Keyset pages: rows in id order after a cursor, and the cursor of the next page.

Keyset, not offset: a page stays stable while rows are inserted before it, and reading page
1,000 costs what reading page 1 does (an index range scan from the cursor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnElement, Integer, Row, Select, bindparam
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

# The cursor and the size of a page built once (`keyset_statement`): bound parameters, so one
# statement serves every page and every caller.
_AFTER: BindParameter[Any] = bindparam("page_after")
_LIMIT = bindparam("page_limit", type_=Integer)


def keyset_page(session: Session, query: Select[T], key: InstrumentedAttribute[Any],
                *, limit: int, after: str | int) -> tuple[list[T], str | None]:
    """Up to `limit` rows of `query` with `key > after`, in `key` order; the next cursor (the
    last row's key, as text) when more rows follow, else None. `after` is an int for integer
    keys (records, usage), so the comparison stays one of integers."""
    rows = list(session.scalars(query.where(key > after).order_by(key).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], str(getattr(rows[limit - 1], key.key))
    return rows, None


def keyset_statement(query: Select[Any], key: ColumnElement[Any]) -> Select[Any]:
    """`query` as a keyset page on bound parameters, for `keyset_rows`: built once by the
    caller, like the other statements of the hot paths, not once a request. `key` is the
    query's first column: the next cursor is read from it."""
    return query.where(key > _AFTER).order_by(key).limit(_LIMIT)


def keyset_rows(session: Session, statement: Select[Any], params: Mapping[str, Any], *,
                limit: int, after: str | int) -> tuple[Sequence[Row[Any]], str | None]:
    """`keyset_page` for a statement of Core columns made by `keyset_statement`: the page as
    rows (plain values, not entities loaded into the session), the same next cursor.

    Core columns skip the ORM's autoflush, so the session is flushed first: a row this
    transaction just wrote is read as it now stands, as the entities' query did."""
    session.flush()
    rows = session.execute(statement, {**params, "page_after": after,
                                       "page_limit": limit + 1}).all()
    if len(rows) > limit:
        return rows[:limit], str(rows[limit - 1][0])
    return rows, None
