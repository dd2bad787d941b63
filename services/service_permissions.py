"""Service permissions: which compute services each member may use, switched by the admin.

What the console's "tenant management permissions" list does: the admin turns a service on or
off per member; a member only reads their own switches. A member's key is refused, with the
403 `service-not-permitted`, wherever it acts on a service the member may not use. The admin
account may always use every service: its switches cannot be turned off (as the admin account
cannot be changed or removed), so an org can never lock its own admin out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.problems import AdminImmutable, NotFound, NotPermitted
from services.guards import org_or_404, writable_org
from store import quotas
from store import service_permissions as repo
from store.audit import audit_many
from store.models import Member, Organization, Service
from store.quotas import member_of


class ServiceNotPermitted(NotPermitted):
    slug = "service-not-permitted"
    title = "Service not permitted"


@dataclass(frozen=True)
class MemberPermissions:
    member_id: str
    is_admin: bool
    services: dict[str, bool]  # service value -> may use it


def _of(org: Organization, members: list[Member],
        switches: dict[tuple[str, str], bool]) -> list[MemberPermissions]:
    return [MemberPermissions(
        member_id=m.id, is_admin=m.id == org.admin_member_id,
        services={s.value: m.id == org.admin_member_id or switches.get((m.id, s.value), True)
                  for s in Service}) for m in members]


def permissions_page(session: Session, org_id: str, *, limit: int, after: str = "",
                     member_id: str | None = None
                     ) -> tuple[list[MemberPermissions], str | None]:
    """A page of the org's members (or the one `member_id`) with each service on or off."""
    org = org_or_404(session, org_id)
    members, cursor = repo.members_page(session, org_id, limit=limit, after=after,
                                        member_id=member_id)
    return _of(org, members, repo.switches(session, org_id, [m.id for m in members])), cursor


def member_permissions(session: Session, org_id: str, member_id: str) -> MemberPermissions:
    org = org_or_404(session, org_id)
    member = member_of(session, org_id, member_id)
    if member is None:
        raise NotFound(f"member {member_id} is not in this organization")
    return _of(org, [member], repo.switches(session, org_id, [member_id]))[0]


def permitted_map(session: Session, org: Organization, member_ids: list[str]
                  ) -> dict[tuple[str, str], bool]:
    """(member id, service value) -> may use it, for every pair of these members."""
    switches = repo.switches(session, org.id, member_ids)
    return {(m, s.value): m == org.admin_member_id or switches.get((m, s.value), True)
            for m in member_ids for s in Service}


def set_permissions(session: Session, org_id: str,
                    switches: Sequence[tuple[str, Service, bool]], *, actor: str) -> int:
    """Turn services on or off for members of an active org; audits each switch that changed
    and returns how many did."""
    org = writable_org(session, org_id)
    members = {m for m, _, _ in switches}
    unknown = members - quotas.members_of(session, org_id, list(members))
    if unknown:
        raise NotFound(f"member {sorted(unknown)[0]} is not in this organization")
    if org.admin_member_id in members:
        raise AdminImmutable("the admin account may always use every service",
                                   field="enabled")
    previous = repo.upsert_switches(session, org_id, switches)
    changed = [(m, s, on) for m, s, on in switches if previous[(m, s.value)] != on]
    audit_many(session, actor, "service_permission.set",
               [(org_id, f"member:{m}") for m, _, _ in changed],
               [dict(service=s.value, enabled=on) for _, s, on in changed])
    return len(changed)


def set_permission(session: Session, org_id: str, member_id: str, service: Service,
                   enabled: bool, *, actor: str) -> MemberPermissions:
    """Turn `service` on or off for one member; the same state again audits nothing."""
    set_permissions(session, org_id, [(member_id, service, enabled)], actor=actor)
    return member_permissions(session, org_id, member_id)


def permitted(session: Session, org: Organization, member_id: str | None,
              service: Service) -> bool:
    """May the member use `service`? The admin always; a key with no member never."""
    if member_id is None:
        return False
    return member_id == org.admin_member_id or repo.permitted(session, org.id, member_id,
                                                              service)


def require_service(session: Session, org_id: str, member_id: str | None,
                    service: Service) -> None:
    """Refuse (403 `service-not-permitted`) a member acting on a service turned off for them."""
    if not permitted(session, org_or_404(session, org_id), member_id, service):
        raise ServiceNotPermitted(f"this member may not use {service.value}: the org admin "
                                  "turned it off", service=service.value)
