"""Members and invitations: list, invite by mail, re-send, revoke, accept, change a role, remove.

Managing members is the org admin's (an admin team key); any team key of the org reads the
member list; a project key reaches none of it. Accepting an invitation needs no key: its
single-use token is the credential, valid only for its own org. Removing a member writes the
removal request and commits it (the member's keys are refused from then on), then starts
their `MemberOffboardingWorkflow`; its progress is read from the database, step by step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from temporalio.service import RPCError

from api.auth import KeyDep, Principal
from api.console.mail import deliver_now
from api.deps import SessionDep, SettingsDep, TemporalConnectionDep
from api.one_hop import OneHopRoute
from api.params import MemberId, OrgId, PageCursor, PageLimit
from api.problems import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    OrgFrozen,
    Unauthorized,
    Unavailable,
    problem_responses,
)
from api.routes.keys import CreatedKeyOut
from api.routes.keys import _out as key_out
from api.routes.org_directory import MemberOut, member_out
from api.routes.orgs import EMAIL_PATTERN
from clients.member_offboarding import start_offboarding
from core.problems import AdminImmutable, InvitationNotValid
from core.text import OneLine
from services import members as service
from services.guards import org_or_404
from services.names import NAME_PATTERN
from store.base import utcnow
from store.member_models import MemberInvitation, MemberRemovalRequest
from store.members import invitation_status

router = APIRouter(route_class=OneHopRoute, tags=["members"])

InvitationId = Annotated[str, Path(min_length=1, max_length=64, description="invitation id")]
READ = (Unauthorized, NotPermitted, NotFound, InvalidInput)
WRITE = (*READ, OrgFrozen, Conflict)


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "admin"}]})

    role: Literal["admin", "member"]


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"email": "grace@acme.example", "role": "member"}]})

    email: OneLine = Field(max_length=320, pattern=EMAIL_PATTERN)
    role: Literal["admin", "member"] = "member"


class InvitationOut(BaseModel):
    """An invitation as the admin sees it: never its token."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "c0ffee...", "email": "grace@acme.example", "role": "member",
        "status": "pending", "sends": 1, "invited_by": "key:olt_4fQ9xk2B",
        "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-08T00:00:00Z",
        "member_id": None}]})

    id: str
    email: str
    role: str
    status: str = Field(description="pending | accepted | revoked | expired")
    sends: int = Field(description="how many mails were sent (re-sending adds one)")
    invited_by: str
    created_at: datetime
    expires_at: datetime
    member_id: str | None = Field(description="the member it made, once accepted")


class InvitationPage(BaseModel):
    items: list[InvitationOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"token": "q3X...from-the-mail", "name": "Grace"}]})

    token: OneLine = Field(min_length=1, max_length=200, description="the token from the mail")
    name: OneLine = Field("", max_length=200)
    key_name: OneLine = Field("default", min_length=1, max_length=200, pattern=NAME_PATTERN,
                          description="name of the new member's first team key")


class JoinedOut(BaseModel):
    member: MemberOut
    key: CreatedKeyOut = Field(description="the member's first team key: the secret is "
                                           "shown in this response only")


class RemovalStep(BaseModel):
    name: str
    status: str = Field(description="pending | done")
    count: int | None = Field(description="rows or messages this step acted on, once done")


class RemovalOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "request_id": "7a1b...", "member_id": "9b2d...", "status": "running",
        "workflow_id": "member-offboarding-9b2d...", "requested_by": "key:olt_4fQ9xk2B",
        "steps": [{"name": "revoke_keys", "status": "done", "count": 2}],
        "detail": "", "created_at": "2026-01-01T00:00:00Z", "finished_at": None}]})

    request_id: str
    member_id: str
    status: str = Field(description="pending | running | completed | failed")
    workflow_id: str
    requested_by: str
    steps: list[RemovalStep]
    detail: str
    created_at: datetime
    finished_at: datetime | None


def invitation_out(row: MemberInvitation) -> InvitationOut:
    return InvitationOut(id=row.id, email=row.email, role=row.role,
                         status=invitation_status(row, utcnow()), sends=row.sends,
                         invited_by=row.invited_by, created_at=row.created_at,
                         expires_at=row.expires_at, member_id=row.member_id)


def removal_out(row: MemberRemovalRequest, counts: dict[str, int]) -> RemovalOut:
    return RemovalOut(
        request_id=row.id, member_id=row.member_id, status=row.status,
        workflow_id=row.workflow_id, requested_by=row.requested_by,
        steps=[RemovalStep(name=name, status="done" if name in counts else "pending",
                           count=counts.get(name)) for name in service.COUNTED_STEPS],
        detail=row.detail, created_at=row.created_at, finished_at=row.finished_at)


@router.get("/orgs/{org_id}/members", response_model=MemberPage,
            summary="The org's members, a page at a time (any team key)",
            responses=problem_responses(*READ))
def list_members(org_id: OrgId, principal: KeyDep, session: SessionDep, limit: PageLimit = 50,
                 cursor: PageCursor = "") -> MemberPage:
    principal.require_team(org_id)
    org = org_or_404(session, org_id)
    rows, next_cursor = service.list_members(session, org_id, limit=limit, after=cursor)
    return MemberPage(items=[member_out(m, org.admin_member_id) for m in rows],
                      next_cursor=next_cursor)


@router.patch("/orgs/{org_id}/members/{member_id}", response_model=MemberOut,
              summary="Change a member's role (never the admin account's: 409)",
              responses=problem_responses(*WRITE, AdminImmutable))
def change_role(org_id: OrgId, member_id: MemberId, body: RoleChange, principal: KeyDep,
                session: SessionDep) -> MemberOut:
    principal.require_admin(org_id)
    member = service.change_role(session, org_id, member_id, body.role, actor=principal.actor)
    return member_out(member, org_or_404(session, org_id).admin_member_id)


def _request_removal(session: Session, principal: Principal, org_id: str,
                     member_id: str) -> service.RemovalRequested:
    requested = service.request_removal(session, org_id, member_id, actor=principal.actor)
    session.commit()  # the key is refused from here on, and the workflow must find the row
    return requested


@router.delete("/orgs/{org_id}/members/{member_id}", status_code=202,
               response_model=RemovalOut,
               summary="Remove a member: their keys stop at once, the offboarding follows",
               responses=problem_responses(*WRITE, AdminImmutable, Unavailable))
async def remove_member(org_id: OrgId, member_id: MemberId, principal: KeyDep,
                        session: SessionDep, settings: SettingsDep,
                        temporal: TemporalConnectionDep) -> RemovalOut:
    principal.require_admin(org_id)
    requested = await run_in_threadpool(_request_removal, session, principal, org_id,
                                        member_id)
    row = requested.request
    try:  # Temporal is reached only after the checks: a refused request needs none of it
        client = await temporal.get()
        await start_offboarding(client, settings.task_queue, org_id, member_id, row.id)
    except (ConnectionError, RPCError) as exc:
        reason = exc.message if isinstance(exc, RPCError) else str(exc)
        raise Unavailable(f"Temporal: {reason}; the request is kept and the member's keys "
                          "are refused: ask again to start the offboarding",
                          request_id=row.id) from None
    return await run_in_threadpool(_removal_status, session, org_id, member_id)


def _removal_status(session: Session, org_id: str, member_id: str) -> RemovalOut:
    row, counts = service.removal_status(session, org_id, member_id)
    return removal_out(row, counts)


@router.get("/orgs/{org_id}/members/{member_id}/removal", response_model=RemovalOut,
            summary="Progress of the member's offboarding, step by step",
            responses=problem_responses(*READ))
def removal_status(org_id: OrgId, member_id: MemberId, principal: KeyDep,
                   session: SessionDep) -> RemovalOut:
    principal.require_admin(org_id)
    return _removal_status(session, org_id, member_id)


@router.post("/orgs/{org_id}/invitations", status_code=201, response_model=InvitationOut,
             summary="Invite an address by mail (a single-use link, valid for the TTL)",
             responses=problem_responses(*WRITE))
def invite(org_id: OrgId, body: InvitationIn, request: Request, principal: KeyDep,
           session: SessionDep, settings: SettingsDep,
           background: BackgroundTasks) -> InvitationOut:
    principal.require_admin(org_id)
    invited = service.invite(session, org_id, email=body.email, role=body.role,
                             actor=principal.actor, pepper=settings.pepper_bytes,
                             ttl=settings.invitation_ttl,
                             console_url=settings.effective_console_url)
    background.add_task(deliver_now, request.app.state.temporal, settings.task_queue,
                        [invited.message_key])
    return invitation_out(invited.invitation)


@router.get("/orgs/{org_id}/invitations", response_model=InvitationPage,
            summary="The org's invitations, a page at a time (admin)",
            responses=problem_responses(*READ))
def list_invitations(org_id: OrgId, principal: KeyDep, session: SessionDep,
                     limit: PageLimit = 50, cursor: PageCursor = "") -> InvitationPage:
    principal.require_admin(org_id)
    rows, next_cursor = service.list_invitations(session, org_id, limit=limit, after=cursor)
    return InvitationPage(items=[invitation_out(r) for r in rows], next_cursor=next_cursor)


@router.post("/orgs/{org_id}/invitations/{invitation_id}/resend", response_model=InvitationOut,
             summary="Send the invitation again: a new link and expiry, the old link void",
             responses=problem_responses(*WRITE))
def resend(org_id: OrgId, invitation_id: InvitationId, request: Request, principal: KeyDep,
           session: SessionDep, settings: SettingsDep,
           background: BackgroundTasks) -> InvitationOut:
    principal.require_admin(org_id)
    invited = service.resend(session, org_id, invitation_id, actor=principal.actor,
                             pepper=settings.pepper_bytes, ttl=settings.invitation_ttl,
                             console_url=settings.effective_console_url)
    background.add_task(deliver_now, request.app.state.temporal, settings.task_queue,
                        [invited.message_key])
    return invitation_out(invited.invitation)


@router.delete("/orgs/{org_id}/invitations/{invitation_id}", response_model=InvitationOut,
               summary="Revoke an open invitation (its link stops working)",
               responses=problem_responses(*WRITE))
def revoke(org_id: OrgId, invitation_id: InvitationId, principal: KeyDep,
           session: SessionDep) -> InvitationOut:
    principal.require_admin(org_id)
    return invitation_out(service.revoke(session, org_id, invitation_id,
                                         actor=principal.actor))


@router.post("/orgs/{org_id}/invitations/accept", status_code=201, response_model=JoinedOut,
             summary="Accept an invitation with its token (no key: the token is the "
                     "credential); returns the member's first team key once",
             responses=problem_responses(InvitationNotValid, NotFound, OrgFrozen, Conflict,
                                         InvalidInput))
def accept(org_id: OrgId, body: AcceptIn, response: Response, session: SessionDep,
           settings: SettingsDep) -> JoinedOut:
    joined = service.accept(session, org_id, body.token, name=body.name,
                            pepper=settings.pepper_bytes, with_key=True,
                            key_name=body.key_name)
    assert joined.key is not None
    org = org_or_404(session, org_id)
    response.headers["Cache-Control"] = "no-store"
    return JoinedOut(member=member_out(joined.member, org.admin_member_id),
                     key=CreatedKeyOut(key=key_out(joined.key.row, utcnow()),
                                       secret=joined.key.secret))
