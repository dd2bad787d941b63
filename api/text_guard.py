"""Refuse U+0000 anywhere in a request's text (path, query, JSON body) with a 422.

Why: PostgreSQL text cannot hold NUL (psycopg2 raises before the statement is sent), so a key
named "\\u0000..." reached the database and came back as a 500, while SQLite stored it: the
same request behaved differently per database. No field of this API has a use for it, so it
is refused up front, before any handler can open a transaction (found by the schemathesis run
at 250 examples per operation).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from api.problems import InvalidInput

NUL = "\x00"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def refuse_nul(request: Request) -> None:
    """App-wide dependency; the body is parsed only when its bytes could hold a NUL."""
    if NUL in request.url.path or any(_has_nul(k) or _has_nul(v)
                                      for k, v in request.query_params.multi_items()):
        raise InvalidInput("text in the request must not contain NUL (U+0000) characters")
    body = await request.body()
    if b"\\u0000" in body or b"\x00" in body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return  # not JSON: the route's own validation answers
        if _has_nul(parsed):
            raise InvalidInput("text in the request must not contain NUL (U+0000) characters")
