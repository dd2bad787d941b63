"""Per-member compute quotas: read for the org or one member, set one (upsert).

Usage (`used`) is maintained by metering, not here; the API only reads it and sets limits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Member, Quota, Service


def quotas(session: Session, org_id: str, *, member_id: str | None = None,
           service: Service | None = None) -> list[Quota]:
    query = select(Quota).where(Quota.org_id == org_id)
    if member_id is not None:
        query = query.where(Quota.member_id == member_id)
    if service is not None:
        query = query.where(Quota.service == service)
    return list(session.execute(query.order_by(Quota.service, Quota.member_id)).scalars())


def member_of(session: Session, org_id: str, member_id: str) -> Member | None:
    member = session.get(Member, member_id)
    return member if member is not None and member.org_id == org_id else None


def set_quota(session: Session, org_id: str, member_id: str, service: Service,
              limit: int) -> tuple[Quota, int | None]:
    """Set a member's limit for one service; returns the row and the previous limit."""
    row = session.execute(select(Quota).where(
        Quota.member_id == member_id, Quota.service == service).with_for_update()
        ).scalar_one_or_none()
    previous = None
    if row is None:
        row = Quota(org_id=org_id, member_id=member_id, service=service, limit=limit, used=0)
        session.add(row)
    else:
        previous = row.limit
        row.limit = limit
    session.flush()
    return row, previous
