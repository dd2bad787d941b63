"""The app-wide net under the typed fields: NUL and card numbers refused in every request.

Every free-text field of a request model is declared with `core.text`'s types, which check the
decoded value. This dependency runs before any handler (so before any transaction) and checks
what a model might not see: fields a model does not declare, dictionary keys, numbers, and
bodies that are not valid JSON at all.

- U+0000 anywhere in the path, the query or the body is a 422: PostgreSQL text cannot hold it
  (psycopg2 raises before the statement is sent), so it would be a 500 there and stored on
  SQLite; no field has a use for it.
- A card number in any decoded string or integer of a JSON body is a 422 `card-number-refused`.
  The decoded value is what counts: `"\\u0034\\u0031..."` is stored as `41...`. A body that is
  not JSON is scanned as text. An API key secret in a body is refused the same way (a key
  pasted into a field would be a secret at rest).

Two kinds of body are decoded and checked by their own code instead, which can say more: record
uploads (`checks_own_text`: `services.record_input` names the position of each bad record) and
the console's forms (`api.console.auth` decodes every field and names the one refused). Dataset
files (`opaque_body`) are not text at all: their bytes are stored as sent, streamed to the
object store without being read here, so only their path and query are checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import Request

from api.problems import InvalidInput
from core.cards import CARD_NUMBER_MESSAGE, contains_card_number
from core.keyformat import KEY_IN_TEXT
from core.problems import CardNumberRefused
from core.text import KEY_PROBLEM, NUL

NUL_MESSAGE = "text in the request must not contain NUL (U+0000) characters"
_OWN_CHECK = "__checks_own_text__"
_OPAQUE = "__opaque_body__"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
F = TypeVar("F", bound=Callable[..., Any])


def checks_own_text(endpoint: F) -> F:
    """Mark a route whose body is decoded and checked for card numbers by its own code."""
    setattr(endpoint, _OWN_CHECK, True)
    return endpoint


def opaque_body(endpoint: F) -> F:
    """Mark a route whose body is opaque bytes it streams itself (never read whole here)."""
    setattr(endpoint, _OPAQUE, True)
    return endpoint


def _texts(value: Any) -> Iterator[str]:
    """Every string (keys included) and integer of a decoded JSON document, as text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            continue
        elif isinstance(item, int):
            yield str(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _parsed(body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except (ValueError, RecursionError):
        return False, None


def _own_check(request: Request) -> bool:
    route = request.scope.get("route")
    if getattr(getattr(route, "endpoint", None), _OWN_CHECK, False):
        return True
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media in FORMS


async def refuse_hostile_text(request: Request) -> None:
    """App-wide dependency: NUL anywhere, or a card number in the body, is refused."""
    if NUL in request.url.path or any(NUL in k or NUL in v
                                      for k, v in request.query_params.multi_items()):
        raise InvalidInput(NUL_MESSAGE)
    if getattr(getattr(request.scope.get("route"), "endpoint", None), _OPAQUE, False):
        return
    body = await request.body()
    if b"\x00" in body:
        raise InvalidInput(NUL_MESSAGE)
    if not body or _own_check(request):
        return
    is_json, document = _parsed(body)
    texts = list(_texts(document)) if is_json else [body.decode("utf-8", errors="replace")]
    if any(NUL in text for text in texts):
        raise InvalidInput(NUL_MESSAGE)
    if any(contains_card_number(text) for text in texts):
        raise CardNumberRefused(CARD_NUMBER_MESSAGE)
    if any(KEY_IN_TEXT.search(text) for text in texts):
        raise InvalidInput(f"the request body {KEY_PROBLEM}")
