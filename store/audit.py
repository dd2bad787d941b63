"""Audit events: who did what to which org, written in the same transaction as the change.

Actors and targets are ids ("member:<id>", "key:<prefix>", "workflow:<id>"), never names,
emails or secrets, because the audit trail outlives the org it describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from store.base import utcnow
from store.models import AuditEvent


def audit(session: Session, org_id: str | None, actor: str, action: str, target: str = "",
          **detail: Any) -> None:
    session.execute(insert(AuditEvent).values(org_id=org_id, actor=actor, action=action,
                                              target=target, detail=detail,
                                              created_at=utcnow()))


def audit_many(session: Session, actor: str, action: str,
               subjects: Sequence[tuple[str | None, str]],
               details: Sequence[dict[str, Any]] | None = None) -> None:
    """One event per (org id, target), in one executemany: a sweep page marks up to a page of
    keys at once, and a statement per key would cost a round trip each. `details`, when
    given, holds one detail per subject."""
    if subjects:
        now = utcnow()
        extra = list(details) if details is not None else [{} for _ in subjects]
        session.execute(insert(AuditEvent), [
            dict(org_id=org_id, actor=actor, action=action, target=target, detail=detail,
                 created_at=now)
            for (org_id, target), detail in zip(subjects, extra, strict=True)])


@dataclass(frozen=True)
class AuditFilter:
    """Which events of an org to read: by actor, by action, in `[since, until)`."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def events_page(session: Session, org_id: str, where: AuditFilter, *, limit: int,
                before: int = 0) -> tuple[list[AuditEvent], str | None]:
    """Up to `limit` of the org's events, newest first, with ids below `before` (0: from the
    newest); the next cursor (the last row's id) when more follow.

    Newest first by id, not by `created_at`: ids only grow, so a page never skips or repeats
    an event written between two reads, and the `(org_id, id)` index serves it as a backward
    range scan from the cursor.
    """
    query = select(AuditEvent).where(AuditEvent.org_id == org_id)
    if before:
        query = query.where(AuditEvent.id < before)
    if where.actor is not None:
        query = query.where(AuditEvent.actor == where.actor)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.since is not None:
        query = query.where(AuditEvent.created_at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.created_at < where.until)
    rows = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], str(rows[limit - 1].id)
    return rows, None
