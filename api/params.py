"""Path and query parameters shared by the routers, declared once so they validate alike.

Ids are opaque strings of at most 64 characters: a longer one is a 422 before any query runs,
in a path and in a body's list of ids alike (`BodyId`), so a bulk body cannot carry megabytes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import StringConstraints

from core.text import ONE_LINE_GUARD

ID_MAX = 64
OrgId = Annotated[str, Path(min_length=1, max_length=64, description="organization id")]
ProjectId = Annotated[str, Path(min_length=1, max_length=64, description="project id")]
MemberId = Annotated[str, Path(min_length=1, max_length=64, description="member id")]
KeyId = Annotated[str, Path(min_length=1, max_length=64, description="API key id")]
BodyId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX), ONE_LINE_GUARD]
SubscriptionId = Annotated[str, Path(min_length=1, max_length=64,
                                     description="subscription id")]

PageLimit = Annotated[int, Query(ge=1, le=200, description="items per page")]
PageCursor = Annotated[str, Query(max_length=64,
                                  description="`next_cursor` of the previous page")]
DatasetId = Annotated[str, Path(min_length=1, max_length=64, description="dataset id")]
# Integer keys (records, usage): at most 18 digits, so the cursor always fits a bigint.
NumericCursor = Annotated[str, Query(max_length=18, pattern=r"^[0-9]*$",
                                     description="`next_cursor` of the previous page")]


def numeric(cursor: str) -> int:
    """A numeric cursor as the id to page after (0: from the start)."""
    return int(cursor) if cursor else 0
