"""Setting compute quotas: one member's limit for one service, or many at once.

The API's "Edit quota", the console's Quotas page and the seed command set limits here, with
the same checks (the org active and locked, every member the org's own, limits in range) and
one audit event per limit set (the same limit again included: each is an admin's decision).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.problems import InvalidInput, NotFound
from services import service_permissions
from services.guards import org_or_404, writable_org
from store import quotas as repo
from store import service_permissions as permission_repo
from store.audit import audit_many
from store.models import Quota, Service

MAX_LIMIT = 1_000_000


def set_quotas(session: Session, org_id: str, limits: Sequence[tuple[str, Service, int]],
               *, actor: str) -> dict[tuple[str, Service], int | None]:
    """Set each (member id, service, limit) of an active org; the previous limits."""
    writable_org(session, org_id)
    for _, _, limit in limits:
        if not 0 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"a limit is between 0 and {MAX_LIMIT}", field="limit")
    unknown = {m for m, _, _ in limits} - repo.members_of(session, org_id,
                                                          [m for m, _, _ in limits])
    if unknown:
        raise NotFound(f"member {sorted(unknown)[0]} is not in this organization")
    previous = repo.upsert_quotas(session, org_id, limits)
    audit_many(session, actor, "quota.set", [(org_id, f"member:{m}") for m, _, _ in limits],
               [dict(service=s.value, old_limit=previous[(m, s)], new_limit=limit)
                for m, s, limit in limits])
    return previous


def set_quota(session: Session, org_id: str, member_id: str, service: Service, limit: int,
              *, actor: str) -> Quota:
    set_quotas(session, org_id, [(member_id, service, limit)], actor=actor)
    (row,) = repo.quotas(session, org_id, member_id=member_id, service=service)
    return row


@dataclass(frozen=True)
class BoardRow:
    """One member on the Quota Management page: who, their limit and use, may they use it."""

    member_id: str
    email: str
    name: str
    is_admin: bool
    limit: int | None  # None: no limit set yet
    used: int
    permitted: bool


@dataclass(frozen=True)
class Board:
    service: Service
    rows: list[BoardRow]
    limit_total: int
    used_total: int
    next_cursor: str | None


def quota_board(session: Session, org_id: str, service: Service, *, limit: int,
                after: str = "") -> Board:
    """A page of the org's members (by id) with their quota of `service` and its permission,
    and the org's totals for the service (over every member, not just the page)."""
    org = org_or_404(session, org_id)
    members, cursor = permission_repo.members_page(session, org_id, limit=limit, after=after)
    allowed = service_permissions.permitted_map(session, org, [m.id for m in members])
    every = repo.quotas(session, org_id, service=service)
    mine = {q.member_id: q for q in every}
    rows = [BoardRow(member_id=m.id, email=m.email, name=m.name,
                     is_admin=m.id == org.admin_member_id,
                     limit=mine[m.id].limit if m.id in mine else None,
                     used=mine[m.id].used if m.id in mine else 0,
                     permitted=allowed[(m.id, service.value)]) for m in members]
    return Board(service=service, rows=rows, limit_total=sum(q.limit for q in every),
                 used_total=sum(q.used for q in every), next_cursor=cursor)
