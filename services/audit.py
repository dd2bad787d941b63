"""Reading an org's audit log: a page newest first, or every matching event as NDJSON.

The export streams: it reads the log a batch at a time, each batch in a short transaction of
its own, so a large log never sits in memory and no transaction stays open while a slow client
reads. Batches are keyed by id like the pages, so events written during an export are either
before its first batch (and included) or after it (and left out), never half seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.problems import InvalidInput
from services.guards import org_or_404
from store import audit as repo
from store.audit import AuditFilter
from store.models import AuditEvent

EXPORT_BATCH = 1000


def event_dict(row: AuditEvent) -> dict[str, Any]:
    """An event as the API shows it (ids and actors only: that is all an event holds)."""
    return {"id": row.id, "actor": row.actor, "action": row.action, "target": row.target,
            "detail": row.detail or {}, "created_at": row.created_at.astimezone(UTC)
            .isoformat().replace("+00:00", "Z")}


def check_filter(where: AuditFilter) -> AuditFilter:
    """The filter, unless its time range is empty or backwards (a 422 naming `until`)."""
    if where.since is not None and where.until is not None and where.until <= where.since:
        raise InvalidInput("`until` must be later than `since`", field="until")
    return where


def events_page(session: Session, org_id: str, where: AuditFilter, *, limit: int,
                before: int = 0) -> tuple[list[AuditEvent], str | None]:
    org_or_404(session, org_id)
    return repo.events_page(session, org_id, check_filter(where), limit=limit, before=before)


def export_lines(factory: sessionmaker[Session], org_id: str, where: AuditFilter, *,
                 batch: int = EXPORT_BATCH, upto: int | None = None) -> Iterator[bytes]:
    """Every matching event, newest first, one JSON object per line.

    `upto` (the newest id when the export began; `newest_id`) bounds the export, so a log that
    grows while it streams still ends.
    """
    before = (upto + 1) if upto is not None else 0
    while True:
        with factory() as session:
            rows, cursor = repo.events_page(session, org_id, where, limit=batch, before=before)
            lines = [json.dumps(event_dict(r), separators=(",", ":"), sort_keys=True) + "\n"
                     for r in rows]
        for line in lines:
            yield line.encode()
        if cursor is None:
            return
        before = int(cursor)


def newest_id(session: Session, org_id: str) -> int:
    """The id of the org's newest event (0 for none), checked while the caller is authorised."""
    org_or_404(session, org_id)
    rows, _ = repo.events_page(session, org_id, AuditFilter(), limit=1)
    return rows[0].id if rows else 0


def parse_time(value: str, field: str) -> datetime:
    """An ISO 8601 timestamp with its offset (naive times are ambiguous: refused)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"`{field}` is not an ISO 8601 timestamp", field=field) from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"`{field}` needs a time zone offset (e.g. Z)", field=field)
    return parsed.astimezone(UTC)
