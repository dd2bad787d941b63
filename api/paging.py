"""Query parameters of the cursor-paged lists, declared once so every list reads alike.

A cursor is the last id of the previous page, handed out as `next_cursor`; lists are keysets
on the id (stable under concurrent inserts), so a cursor stays valid however long it is kept.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Cursor = Annotated[str, Query(max_length=64, pattern=r"^[0-9a-f]*$",
                              description="`next_cursor` of the previous page")]
NumericCursor = Annotated[str, Query(max_length=18, pattern=r"^[0-9]*$",
                                     description="`next_cursor` of the previous page")]
OrgId = Annotated[str, Path(min_length=1, max_length=64, description="organization id")]
ProjectId = Annotated[str, Path(min_length=1, max_length=64, description="project id")]
DatasetId = Annotated[str, Path(min_length=1, max_length=64, description="dataset id")]


def numeric(cursor: str) -> int:
    """A numeric cursor as the id to page after (0: from the start)."""
    return int(cursor) if cursor else 0
