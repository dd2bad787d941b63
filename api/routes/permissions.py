"""Service permissions: which compute services each member may use (the console's "tenant
management permissions"). The admin reads everyone's and switches them; a member reads only
their own. A member's key is refused on a service turned off for them (see the quota routes).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyDep, Principal
from api.deps import SessionDep
from api.one_hop import OneHopRoute
from api.params import MemberId, OrgId, PageCursor, PageLimit
from api.problems import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    Unauthorized,
    problem_responses,
)
from services import service_permissions as perms
from store.models import Service

router = APIRouter(route_class=OneHopRoute, tags=["permissions"])

ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput)
WRITE_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, Conflict, InvalidInput)
EXAMPLE: dict[str, Any] = {"member_id": "9b2d...", "is_admin": False,
           "services": {"container_compute": True, "virtual_compute": False}}


class PermissionsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    member_id: str
    is_admin: bool = Field(description="the admin account may always use every service")
    services: dict[str, bool] = Field(description="service -> may use it")


class PermissionsPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [EXAMPLE],
                                                               "next_cursor": None}]})

    items: list[PermissionsOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class PermissionSet(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"enabled": False}]})

    enabled: bool = Field(strict=True, description="may the member use the service")


def _out(found: perms.MemberPermissions) -> PermissionsOut:
    return PermissionsOut(member_id=found.member_id, is_admin=found.is_admin,
                          services=found.services)


def _require_self_or_admin(principal: Principal, org_id: str, member_id: str) -> None:
    principal.require_team(org_id)
    if not principal.is_admin and principal.member_id != member_id:
        raise NotPermitted("members may read their own permissions only")


@router.get("/orgs/{org_id}/permissions", response_model=PermissionsPage, responses=ERRORS,
            summary="Service permissions of every member (admin; a member sees their own)")
def list_permissions(org_id: OrgId, principal: KeyDep, session: SessionDep,
                     limit: PageLimit = 50, cursor: PageCursor = "") -> PermissionsPage:
    principal.require_team(org_id)
    only = None if principal.is_admin else (principal.member_id or "")
    items, next_cursor = perms.permissions_page(session, org_id, limit=limit, after=cursor,
                                                  member_id=only)
    return PermissionsPage(items=[_out(i) for i in items], next_cursor=next_cursor)


@router.get("/orgs/{org_id}/members/{member_id}/permissions", response_model=PermissionsOut,
            responses=ERRORS, summary="One member's service permissions (admin, or the member)")
def member_permissions(org_id: OrgId, member_id: MemberId, principal: KeyDep,
                       session: SessionDep) -> PermissionsOut:
    _require_self_or_admin(principal, org_id, member_id)
    return _out(perms.member_permissions(session, org_id, member_id))


@router.put("/orgs/{org_id}/members/{member_id}/permissions/{service}",
            response_model=PermissionsOut, responses=WRITE_ERRORS,
            summary="Turn a service on or off for a member (admin only)")
def set_permission(org_id: OrgId, member_id: MemberId, service: Service,
                   body: PermissionSet, principal: KeyDep, session: SessionDep
                   ) -> PermissionsOut:
    principal.require_admin(org_id)
    return _out(perms.set_permission(session, org_id, member_id, service, body.enabled,
                                     actor=principal.actor))
