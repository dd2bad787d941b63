"""Audit events: who did what to which org, written in the same transaction as the change.

Actors and targets are ids ("member:<id>", "key:<prefix>", "workflow:<id>"), never names,
emails or secrets, because the audit trail outlives the org it describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
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
