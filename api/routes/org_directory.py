"""Creating orgs (`POST /orgs`) and the operators' directory of orgs (`GET /ops/orgs`).

Who may create an org is a setting (`LIFECYCLE_ORG_SIGNUP`): the operator alone (the default),
or anyone, then at most `LIFECYCLE_ORG_SIGNUP_PER_HOUR` orgs per client address and hour,
counted in the database (a keyed hash of the address, never the address) so every replica
counts the same; the operator is never limited. The answer holds the admin's first team key,
whose secret is in this response only.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import OperatorDep, is_operator
from api.deps import SessionDep, SettingsDep
from api.one_hop import OneHopRoute
from api.params import PageCursor, PageLimit
from api.problems import InvalidInput, Unauthorized, problem_responses
from api.routes.keys import CreatedKeyOut
from api.routes.keys import _out as key_out
from api.routes.orgs import EMAIL_PATTERN, OrgOut, _org_out
from core.problems import NameQuarantined, TooManyRequests
from core.text import OneLine
from core.tokens import keyed_hash
from services import orgs as org_service
from services.names import NAME_PATTERN
from store import console_auth, orgs
from store.base import utcnow
from store.models import Member, OrgStatus

router = APIRouter(route_class=OneHopRoute, tags=["orgs"])

SIGNUP_WINDOW = timedelta(hours=1)


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Acme Research", "admin_email": "ada@acme.example", "admin_name": "Ada",
        "timezone": "Europe/Berlin", "key_name": "admin"}]})

    name: OneLine = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    admin_email: OneLine = Field(max_length=320, pattern=EMAIL_PATTERN,
                             description="the admin account: fixed from now on")
    admin_name: OneLine = Field("", max_length=200)
    timezone: OneLine = Field("UTC", max_length=64)
    key_name: OneLine = Field("admin", min_length=1, max_length=200, pattern=NAME_PATTERN,
                          description="name of the admin's first team key")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError("unknown IANA time zone")
        return value


class MemberOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "9b2d...", "email": "ada@acme.example", "name": "Ada", "role": "admin",
        "status": "active", "is_admin_account": True, "created_at": "2026-01-01T00:00:00Z"}]})

    id: str
    email: str
    name: str
    role: str = Field(description="admin | member")
    status: str = Field(description="active | removing (an offboarding is under way)")
    is_admin_account: bool = Field(description="the org's one admin account: never changed")
    created_at: datetime


class CreatedOrgOut(BaseModel):
    org: OrgOut
    admin: MemberOut
    key: CreatedKeyOut = Field(description="the admin's first team key: the secret is shown "
                                           "in this response only")


class OrgSummary(BaseModel):
    id: str
    name: str
    status: str
    members: int
    created_at: datetime


class OrgDirectoryPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"id": "3f1c...", "name": "Acme Research", "status": "active",
                   "members": 3, "created_at": "2026-01-01T00:00:00Z"}],
        "next_cursor": None}]})

    items: list[OrgSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


def _signup_actor(request: Request, session: SessionDep, settings: SettingsDep) -> str:
    """The audit actor of a sign-up, once the caller may make one (or a 401/429)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and is_operator(settings, token.strip()):
        return "operator"
    if settings.org_signup != "open":
        raise Unauthorized("creating an organization needs the operator credential "
                           "(sign-up is operator-only here)")
    client = request.client.host if request.client else "unknown"
    bucket = keyed_hash(settings.pepper_bytes, "org-signup-client", client).hex()
    count = console_auth.count_attempt(session, bucket, utcnow(), SIGNUP_WINDOW)
    if count > settings.org_signup_per_hour:
        session.commit()  # the attempt counts even though this request is refused
        raise TooManyRequests(f"at most {settings.org_signup_per_hour} organizations per "
                              "hour from one address: try again later")
    return "signup"


def member_out(member: Member, admin_member_id: str) -> MemberOut:
    return MemberOut(id=member.id, email=member.email, name=member.name,
                     role=member.role.value, status=member.status.value,
                     is_admin_account=member.id == admin_member_id,
                     created_at=member.created_at)


@router.post("/orgs", status_code=201, response_model=CreatedOrgOut,
             summary="Create an org with its admin and the admin's first team key",
             responses=problem_responses(Unauthorized, InvalidInput, NameQuarantined,
                                         TooManyRequests))
def create_org(body: OrgCreate, request: Request, response: Response, session: SessionDep,
               settings: SettingsDep) -> CreatedOrgOut:
    actor = _signup_actor(request, session, settings)
    made = org_service.create_org(session, name=body.name, admin_email=body.admin_email,
                                  admin_name=body.admin_name, timezone=body.timezone,
                                  key_name=body.key_name, pepper=settings.pepper_bytes,
                                  actor=actor,
                                  name_quarantine_days=settings.org_name_quarantine_days)
    response.headers["Cache-Control"] = "no-store"
    return CreatedOrgOut(org=_org_out(session, made.org),
                         admin=member_out(made.admin, made.org.admin_member_id),
                         key=CreatedKeyOut(key=key_out(made.key.row, utcnow()),
                                           secret=made.key.secret))


@router.get("/ops/orgs", tags=["ops"], response_model=OrgDirectoryPage,
            summary="Every org (operators): name search, status filter, a page at a time",
            responses=problem_responses(Unauthorized, InvalidInput))
def list_orgs(_: OperatorDep, session: SessionDep,
              q: Annotated[str, Query(max_length=200, description="part of the name, any case")
                           ] = "",
              status: Annotated[Literal["active", "frozen", "deleting"] | None,
                                Query(description="only orgs in this state")] = None,
              limit: PageLimit = 50, cursor: PageCursor = "") -> OrgDirectoryPage:
    rows, next_cursor = orgs.list_orgs(session, name_contains=q,
                                       status=OrgStatus(status) if status else None,
                                       limit=limit, after=cursor)
    counts = orgs.member_counts(session, [org.id for org in rows])
    return OrgDirectoryPage(items=[OrgSummary(
        id=org.id, name=org.name, status=org.status.value, members=counts.get(org.id, 0),
        created_at=org.created_at) for org in rows], next_cursor=next_cursor)
