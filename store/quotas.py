"""Per-member compute quotas: read for the org or one member, set one (upsert).

Usage (`used`) is maintained by metering, not here; the API only reads it and sets limits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from store.models import Member, MemberStatus, Quota, Service


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


def members_of(session: Session, org_id: str, member_ids: Sequence[str]) -> set[str]:
    """Which of `member_ids` are active members of the org (one being removed gets no quota
    or permission: the offboarding is releasing theirs)."""
    return set(session.scalars(select(Member.id).where(
        Member.org_id == org_id, Member.id.in_(set(member_ids)),
        Member.status == MemberStatus.ACTIVE)))


def upsert_quotas(session: Session, org_id: str,
                  limits: Sequence[tuple[str, Service, int]]) -> dict[tuple[str, Service],
                                                                       int | None]:
    """Set many (member, service) limits at once: the rows that exist are locked and updated,
    the rest inserted in one executemany. Returns each pair's previous limit (None: new)."""
    wanted = {(m, s): limit for m, s, limit in limits}
    found = {(r.member_id, r.service): r for r in session.scalars(
        select(Quota).where(Quota.org_id == org_id,
                            Quota.member_id.in_({m for m, _ in wanted})).with_for_update())}
    previous: dict[tuple[str, Service], int | None] = {}
    fresh = []
    for (member_id, service), limit in wanted.items():
        row = found.get((member_id, service))
        previous[(member_id, service)] = row.limit if row is not None else None
        if row is None:
            fresh.append(dict(org_id=org_id, member_id=member_id, service=service,
                              limit=limit, used=0))
        else:
            row.limit = limit
    if fresh:
        session.execute(insert(Quota), fresh)
    session.flush()
    return previous
