"""Keyset pages: rows in id order after a cursor, and the cursor of the next page.

Keyset, not offset: a page stays stable while rows are inserted before it, and reading page
1,000 costs what reading page 1 does (an index range scan from the cursor).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


def keyset_page(session: Session, query: Select[T], key: InstrumentedAttribute[Any],
                *, limit: int, after: str | int) -> tuple[list[T], str | None]:
    """Up to `limit` rows of `query` with `key > after`, in `key` order; the next cursor (the
    last row's key, as text) when more rows follow, else None. `after` is an int for integer
    keys (records, usage), so the comparison stays one of integers."""
    rows = list(session.scalars(query.where(key > after).order_by(key).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], str(getattr(rows[limit - 1], key.key))
    return rows, None
