"""What is left of an org in the live database, found without trusting the models.

The tables and foreign keys are read from the database itself (SQLAlchemy's inspector), so a
table the models forgot, or a migration that differs from them, is still searched. Two walks:

- every table with a path of foreign keys to `organizations`: its rows whose path ends at the
  org's id (parents looked up by value, so a row pointing at a deleted parent would count too);
- every text column of every table not kept on purpose after a teardown (`store.ownership`'s
  retained tables: audit events, certificates, ledgers, outbox): rows holding any of the ids
  the org ever had (org, members, projects, datasets, keys, subscriptions...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, String, Text, column, func, inspect, select, table

from store.ownership import RETAINED


def _fk_paths(engine: Engine) -> dict[str, list[tuple[str, str, str]]]:
    """For each table reaching `organizations`: one path of (column, parent, parent column)."""
    inspector = inspect(engine)
    fks = {name: inspector.get_foreign_keys(name) for name in inspector.get_table_names()}
    paths: dict[str, list[tuple[str, str, str]]] = {"organizations": []}
    changed = True
    while changed:
        changed = False
        for name, keys in fks.items():
            if name in paths:
                continue
            for fk in keys:
                parent = fk["referred_table"]
                if parent in paths and len(fk["constrained_columns"]) == 1:
                    paths[name] = [(fk["constrained_columns"][0], parent,
                                    fk["referred_columns"][0]), *paths[parent]]
                    changed = True
                    break
    return paths


def _owned_by(name: str, path: list[tuple[str, str, str]], org_id: str) -> Any:
    """COUNT(*) of `name`'s rows whose foreign-key path ends at `org_id`.

    The path is (column, parent, parent column) from `name` up to `organizations`; each step
    keeps the rows whose column holds a value of the parent rows kept by the step above it.
    """
    if not path:
        return select(func.count()).select_from(table(name, column("id"))).where(
            column("id") == org_id)
    tables = [name] + [parent for _, parent, _ in path]
    last = len(path) - 1
    condition: Any = column(path[last][0]) == org_id  # the table holding the org's id
    for i in range(last - 1, -1, -1):
        child_col, _, parent_col = path[i]
        parent = tables[i + 1]
        kept: Any = select(column(parent_col)).select_from(table(parent)).where(condition)
        condition = column(child_col).in_(kept)
    return select(func.count()).select_from(table(name)).where(condition)


def fk_leftovers(engine: Engine, org_id: str) -> dict[str, int]:
    """Rows reaching the org through the live schema's foreign keys, per table (non-zero)."""
    found: dict[str, int] = {}
    with engine.connect() as conn:
        for name, path in sorted(_fk_paths(engine).items()):
            count = int(conn.execute(_owned_by(name, path, org_id)).scalar_one())
            if count:
                found[name] = count
    return found


def id_leftovers(engine: Engine, ids: Iterable[str]) -> dict[str, int]:
    """Rows of non-retained tables holding any of `ids` in any text column (non-zero)."""
    wanted = sorted(set(ids))
    found: dict[str, int] = {}
    inspector = inspect(engine)
    with engine.connect() as conn:
        for name in sorted(inspector.get_table_names()):
            if name in RETAINED or name == "alembic_version":
                continue
            for col in inspector.get_columns(name):
                if not isinstance(col["type"], (String, Text)):
                    continue
                count = int(conn.execute(select(func.count()).select_from(
                    table(name, column(col["name"]))).where(
                    column(col["name"]).in_(wanted))).scalar_one())
                if count:
                    found[f"{name}.{col['name']}"] = count
    return found
