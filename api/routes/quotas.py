"""Compute quotas per member (`container_compute`, `virtual_compute`).

The org admin sees and sets everyone's; a member's team key reads only that member's own rows
(org totals are left out for them, as the console shows members only their own quota). Each
member's row says whether the member may use the service (`permitted`, the service
permissions); a member's key asking for a service turned off for them is refused with the 403
`service-not-permitted`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.auth import KeyDep
from api.deps import SessionDep
from api.guards import org_or_404
from api.one_hop import OneHopRoute
from api.params import MemberId, OrgId
from api.problems import InvalidInput, NotFound, NotPermitted, Unauthorized, problem_responses
from services import quotas as quota_service
from services import service_permissions as perms
from store import quotas as repo
from store.models import Organization, Quota, Service

router = APIRouter(route_class=OneHopRoute, tags=["quotas"])

ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput)


class MemberQuota(BaseModel):
    member_id: str
    limit: int
    used: int
    permitted: bool = Field(description="may the member use the service (its permission)")


class ServiceQuotas(BaseModel):
    service: Service
    limit_total: int | None = Field(description="whole org; null for a member's own view")
    used_total: int | None
    members: list[MemberQuota]


class QuotaReport(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"services": [{
        "service": "container_compute", "limit_total": 120, "used_total": 35,
        "members": [{"member_id": "9b2d...", "limit": 60, "used": 20,
                     "permitted": True}]}]}]})

    services: list[ServiceQuotas]


class QuotaSet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"limit": 50}]})

    limit: int = Field(ge=0, le=1_000_000)


def _report(session: Session, org: Organization, rows: list[Quota],
            with_totals: bool) -> QuotaReport:
    allowed = perms.permitted_map(session, org, sorted({r.member_id for r in rows}))
    services = []
    for service in Service:
        mine = [r for r in rows if r.service is service]
        services.append(ServiceQuotas(
            service=service,
            limit_total=sum(r.limit for r in mine) if with_totals else None,
            used_total=sum(r.used for r in mine) if with_totals else None,
            members=[MemberQuota(member_id=r.member_id, limit=r.limit, used=r.used,
                                 permitted=allowed[(r.member_id, service.value)])
                     for r in mine]))
    return QuotaReport(services=services)


@router.get("/orgs/{org_id}/quotas", response_model=QuotaReport, responses=ERRORS,
            summary="Usage and quota per service, for the org and per member")
def org_quotas(org_id: OrgId, principal: KeyDep, session: SessionDep,
               service: Annotated[Service | None, Query()] = None) -> QuotaReport:
    principal.require_team(org_id)
    org = org_or_404(session, org_id)
    if principal.is_admin:
        return _report(session, org, repo.quotas(session, org_id, service=service), True)
    if service is not None:  # a member's key acting on one service: it must be theirs to use
        perms.require_service(session, org_id, principal.member_id, service)
    rows = repo.quotas(session, org_id, member_id=principal.member_id or "", service=service)
    return _report(session, org, rows, False)


@router.get("/orgs/{org_id}/members/{member_id}/quotas", response_model=QuotaReport,
            responses=ERRORS, summary="One member's usage and quota (admin, or the member)")
def member_quotas(org_id: OrgId, member_id: MemberId, principal: KeyDep,
                  session: SessionDep) -> QuotaReport:
    principal.require_team(org_id)
    if not principal.is_admin and principal.member_id != member_id:
        raise NotPermitted("members may read their own quota only")
    org = org_or_404(session, org_id)
    if repo.member_of(session, org_id, member_id) is None:
        raise NotFound(f"member {member_id} is not in this organization")
    return _report(session, org, repo.quotas(session, org_id, member_id=member_id), False)


@router.put("/orgs/{org_id}/members/{member_id}/quotas/{service}", response_model=MemberQuota,
            responses=ERRORS, summary="Set a member's quota for one service (admin only)")
def set_member_quota(org_id: OrgId, member_id: MemberId, service: Service, body: QuotaSet,
                     principal: KeyDep, session: SessionDep) -> MemberQuota:
    principal.require_admin(org_id)
    row = quota_service.set_quota(session, org_id, member_id, service, body.limit,
                                  actor=principal.actor)
    org = org_or_404(session, org_id)
    return MemberQuota(member_id=member_id, limit=row.limit, used=row.used,
                       permitted=perms.permitted(session, org, member_id, service))
