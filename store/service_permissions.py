"""Service permissions: read one member's or a page of members' switches, set one (upsert).

No row means on: `permitted` answers True unless a row turns the service off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from store.base import rowcount, utcnow
from store.models import Member, Service
from store.paging import keyset_page
from store.permission_models import ServicePermission


def switches(session: Session, org_id: str, member_ids: Iterable[str]
             ) -> dict[tuple[str, str], bool]:
    """(member id, service value) -> enabled, for the rows that exist (absent: on)."""
    ids = list(member_ids)
    if not ids:
        return {}
    rows = session.execute(select(ServicePermission.member_id, ServicePermission.service,
                                  ServicePermission.enabled).where(
        ServicePermission.org_id == org_id, ServicePermission.member_id.in_(ids)))
    return {(member, service): bool(enabled) for member, service, enabled in rows}


def permitted(session: Session, org_id: str, member_id: str, service: Service) -> bool:
    enabled = session.execute(select(ServicePermission.enabled).where(
        ServicePermission.org_id == org_id, ServicePermission.member_id == member_id,
        ServicePermission.service == service.value)).scalar_one_or_none()
    return enabled is None or bool(enabled)


def upsert_switches(session: Session, org_id: str,
                    wanted: Sequence[tuple[str, Service, bool]]) -> dict[tuple[str, str], bool]:
    """Set many (member, service) switches at once: existing rows locked and updated, the rest
    inserted in one executemany. Returns each pair's previous state (absent: on)."""
    target = {(m, s.value): enabled for m, s, enabled in wanted}
    found = {(r.member_id, r.service): r for r in session.scalars(
        select(ServicePermission).where(
            ServicePermission.org_id == org_id,
            ServicePermission.member_id.in_({m for m, _ in target})).with_for_update())}
    previous: dict[tuple[str, str], bool] = {}
    fresh = []
    now = utcnow()
    for (member_id, service), enabled in target.items():
        row = found.get((member_id, service))
        previous[(member_id, service)] = True if row is None else bool(row.enabled)
        if row is None:
            fresh.append(dict(org_id=org_id, member_id=member_id, service=service,
                              enabled=enabled, updated_at=now))
        elif bool(row.enabled) != enabled:
            row.enabled, row.updated_at = enabled, now
    if fresh:
        session.execute(insert(ServicePermission), fresh)
    session.flush()
    return previous


def members_page(session: Session, org_id: str, *, limit: int, after: str,
                 member_id: str | None = None) -> tuple[list[Member], str | None]:
    """The org's members in id order after `after` (one member when `member_id` is given)."""
    query = select(Member).where(Member.org_id == org_id)
    if member_id is not None:
        query = query.where(Member.id == member_id)
    return keyset_page(session, query, Member.id, limit=limit, after=after)


def erase_member(session: Session, member_id: str) -> int:
    """A removed member's switches (they decide nothing once the member is gone)."""
    return rowcount(session.execute(delete(ServicePermission).where(
        ServicePermission.member_id == member_id)))
