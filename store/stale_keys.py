"""Stale keys for operators: live keys nobody has used for N days (or ever, since N days).

A key that is never used is a secret lying around for nothing; operators review this list and
ask owners to delete them. "Unused" means `last_used_at` older than the cutoff, or never used
and created before it (a key made this morning is not stale just because it is new).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from store.models import ApiKey, KeyScope


@dataclass(frozen=True)
class StaleKey:
    """What an operator sees: no secret, no hash; the prefix identifies the key."""

    id: str
    org_id: str
    scope: KeyScope
    project_id: str | None
    name: str
    prefix: str
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime


def stale_keys(session: Session, *, unused_days: int, now: datetime,
               org_id: str | None = None, after_id: str = "", limit: int = 100
               ) -> list[StaleKey]:
    """Live (not revoked, not expired) keys unused for `unused_days`, in id order after
    `after_id` so a long list pages by keyset; `org_id` narrows it to one org."""
    if unused_days < 0:
        raise ValueError("unused_days must be >= 0")
    cutoff = now - timedelta(days=unused_days)
    query = (select(ApiKey).where(
        ApiKey.revoked_at.is_(None), ApiKey.expires_at > now, ApiKey.id > after_id,
        or_(ApiKey.last_used_at < cutoff,
            and_(ApiKey.last_used_at.is_(None), ApiKey.created_at < cutoff)))
        .order_by(ApiKey.id).limit(limit))
    if org_id is not None:
        query = query.where(ApiKey.org_id == org_id)
    return [StaleKey(k.id, k.org_id, k.scope, k.project_id, k.name, k.prefix, k.created_by,
                     k.created_at, k.last_used_at, k.expires_at)
            for k in session.scalars(query)]
