"""Records as people send them: NDJSON or a JSON array of objects, checked whole.

Why whole: an upload of ten thousand records where the 9,000th is bad must write nothing, or
the caller cannot tell which part to send again. Every record is parsed and checked before the
first one is stored; the answer to a bad upload names every failing record (up to
`MAX_ERRORS`) by its position, never by its content, which may be personal data.

A record is a JSON object, stored as its compact UTF-8 encoding. NaN and Infinity are refused
(they are not JSON), and so are NUL characters (refused everywhere in this API) and anything
that looks like a card number or an API key secret (refused in every field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.cards import contains_card_number
from core.keyformat import KEY_IN_TEXT
from core.problems import InvalidInput

NDJSON = ("application/x-ndjson", "application/ndjson", "application/jsonl")
JSON = "application/json"
MEDIA_TYPES = (*NDJSON, JSON)
MAX_ERRORS = 20


@dataclass(frozen=True)
class RecordLimits:
    max_records: int = 10_000
    max_record_bytes: int = 64 * 1024


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_refuse_constant)


def _items(body: str, media_type: str) -> list[tuple[int | None, Any]]:
    """(line, parsed value or the error) per record, in order."""
    if media_type == JSON:
        try:
            document = _loads(body)
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"the body is not JSON: {type(exc).__name__}") from None
        if not isinstance(document, list):
            raise InvalidInput("a JSON body must be an array of record objects")
        return [(None, item) for item in document]
    items: list[tuple[int | None, Any]] = []
    for number, line in enumerate(body.split("\n"), start=1):
        if not line.strip():
            continue  # a trailing newline, or blank lines between records
        try:
            items.append((number, _loads(line)))
        except (ValueError, RecursionError) as exc:
            items.append((number, exc))
    return items


def _problem(value: Any, encoded: bytes | None, limits: RecordLimits) -> str | None:
    if isinstance(value, (ValueError, RecursionError)):
        return "not a JSON value" if not isinstance(value, _NotJson) else str(value)
    if not isinstance(value, dict):
        return f"a record must be a JSON object, not {type(value).__name__}"
    assert encoded is not None
    if len(encoded) > limits.max_record_bytes:
        return f"larger than {limits.max_record_bytes} bytes"
    text = encoded.decode()
    if "\\u0000" in text:  # json.dumps writes every control character as an escape
        return "holds a NUL (U+0000) character"
    if contains_card_number(text):
        return "holds what looks like a card number"
    if KEY_IN_TEXT.search(text):
        return "holds an API key secret"
    return None


def parse_records(body: bytes, media_type: str, limits: RecordLimits) -> list[bytes]:
    """The records of `body` as stored payloads, or one 422 listing every bad record."""
    media = media_type.split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise InvalidInput(f"send records as {' or '.join((NDJSON[0], JSON))}",
                           media_type=media or None)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8 text") from None
    items = _items(text, media)
    if not items:
        raise InvalidInput("no records in the body")
    if len(items) > limits.max_records:
        raise InvalidInput(f"at most {limits.max_records} records per request, got "
                           f"{len(items)}", max_records=limits.max_records)
    payloads: list[bytes] = []
    errors: list[dict[str, Any]] = []
    bad = 0
    for index, (line, value) in enumerate(items):
        encoded = (json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
                   if isinstance(value, dict) else None)
        problem = _problem(value, encoded, limits)
        if problem is None:
            assert encoded is not None
            payloads.append(encoded)
            continue
        bad += 1
        if len(errors) < MAX_ERRORS:
            where: dict[str, Any] = {"record": index}
            if line is not None:
                where["line"] = line
            errors.append({**where, "msg": problem})
    if bad:
        raise InvalidInput(f"{bad} of {len(items)} records failed validation: nothing was "
                           "written", errors=errors, failed=bad, received=len(items))
    return payloads


def decode_record(payload: bytes) -> Any:
    """A stored payload as the JSON object it was sent as; None for bytes that are not JSON
    (records loaded in bulk by tools that store raw bytes)."""
    try:
        return _loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
