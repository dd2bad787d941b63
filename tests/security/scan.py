"""Scanning where secrets must never be: every column of every table, every Temporal history.

Why by shape and not by needle: the hostile inputs of a run are known, but a card number or a
key can reach storage in a form nobody planted (decoded from an escape, joined from parts), so
the scans look for anything Luhn-valid (`core.cards`) and anything in the key format
(`core.keyformat.KEY_IN_TEXT`). A history's payloads are base64 in its JSON: they are decoded,
since that is where a workflow's inputs (a cancel reason, an actor) are kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHistory

import store.models  # noqa: F401  (registers every table on the metadata)
from core.cards import contains_card_number
from core.keyformat import KEY_IN_TEXT
from store.base import Base


def database_texts(sessions: sessionmaker[Session]) -> Iterator[tuple[str, str]]:
    """("table.column", text) for every non-null value of every table, bytes decoded."""
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    text = (value.decode("utf-8", errors="replace")
                            if isinstance(value, bytes) else str(value))
                    yield f"{table.name}.{column}", text


def _payload_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                try:
                    yield base64.b64decode(value, validate=True).decode("utf-8", "replace")
                except (binascii.Error, ValueError):
                    yield value
            else:
                yield from _payload_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _payload_texts(item)


def history_texts(history: WorkflowHistory) -> list[str]:
    """The history as JSON, then every payload in it decoded."""
    raw = history.to_json()
    return [raw, *_payload_texts(json.loads(raw))]


def findings(sources: Iterator[tuple[str, str]]) -> list[str]:
    """Where a card number or a key secret sits (the place, never the value)."""
    found = []
    for where, text in sources:
        if contains_card_number(text):
            found.append(f"card number in {where}")
        if KEY_IN_TEXT.search(text):
            found.append(f"key secret in {where}")
    return found
