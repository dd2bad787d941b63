"""Members: the list with roles, invitations (invite, re-send, revoke), remove with the
offboarding's progress, and the invitee's accept page.

Every action is the member services' (`services.members`), called in-process with the signed-in
admin as actor, so the console refuses and audits exactly as the API does. Accepting an
invitation in the browser makes the member and signs them in (no key is made: a console user
needs none); the link's GET only shows a button, so a mail scanner fetching it uses nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.service import RPCError

from api.console.auth import AdminDep, ConsoleUser, FormDep, SignedOutFormDep
from api.console.mail import deliver_now
from api.console.render import Errors, errors_of, page, see_other, status_of
from api.console.routes_auth import signed_out_page, start_session
from api.deps import SessionDep, SettingsDep
from api.problems import Problem, Unavailable
from api.routes.members import removal_out
from clients.member_offboarding import start_offboarding
from core.problems import InvitationNotValid
from services import members as service
from store import members
from store.base import utcnow
from store.models import Organization

router = APIRouter()

PAGE_SIZE = 50


def _members_page(request: Request, user: ConsoleUser, session: SessionDep, *,
                  status: int = 200, errors: Errors | None = None,
                  form: dict[str, str] | None = None, notice: str = "") -> HTMLResponse:
    org = session.get(Organization, user.org_id)
    cursor = request.query_params.get("cursor", "")[:64]
    rows, next_cursor = service.list_members(session, user.org_id, limit=PAGE_SIZE,
                                             after=cursor)
    invitations, _ = service.list_invitations(session, user.org_id, limit=PAGE_SIZE)
    now = utcnow()
    pending = [(i, members.invitation_status(i, now)) for i in invitations
               if i.accepted_at is None]
    for key, text in (("invited", "Invitation sent."), ("resent", "Invitation sent again."),
                      ("revoked", "Invitation revoked."), ("role", "Role changed.")):
        if request.query_params.get(key):
            notice = text
    return page(request, "members.html", user, status=status, members=rows,
                admin_member_id=org.admin_member_id if org else "", invitations=pending,
                next_cursor=next_cursor, first_page=not cursor, errors=errors or {},
                form=form or {}, notice=notice)


@router.get("/members", response_class=HTMLResponse)
def members_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    return _members_page(request, user, session)


@router.post("/members/invite", response_class=HTMLResponse)
def invite(request: Request, user: AdminDep, form: FormDep, session: SessionDep,
           settings: SettingsDep, background: BackgroundTasks) -> Response:
    values = {"email": str(form.get("email", "")), "role": str(form.get("role", "member"))}
    try:
        invited = service.invite(session, user.org_id, email=values["email"],
                                 role=values["role"], actor=user.principal.actor,
                                 pepper=settings.pepper_bytes, ttl=settings.invitation_ttl,
                                 console_url=settings.effective_console_url)
    except Problem as exc:
        session.rollback()
        return _members_page(request, user, session, status=status_of(exc),
                             errors=errors_of(exc, "email"), form=values)
    background.add_task(deliver_now, request.app.state.temporal, settings.task_queue,
                        [invited.message_key])
    return see_other("/console/members?invited=1")


@router.post("/members/invitations/{invitation_id}/resend", response_class=HTMLResponse)
def resend(request: Request, invitation_id: str, user: AdminDep, form: FormDep,
           session: SessionDep, settings: SettingsDep,
           background: BackgroundTasks) -> Response:
    try:
        invited = service.resend(session, user.org_id, invitation_id[:64],
                                 actor=user.principal.actor, pepper=settings.pepper_bytes,
                                 ttl=settings.invitation_ttl,
                                 console_url=settings.effective_console_url)
    except Problem as exc:
        session.rollback()
        return _members_page(request, user, session, status=exc.status,
                             errors=errors_of(exc, "invitations"))
    background.add_task(deliver_now, request.app.state.temporal, settings.task_queue,
                        [invited.message_key])
    return see_other("/console/members?resent=1")


def _act(request: Request, user: ConsoleUser, session: SessionDep, work: Callable[[], object],
         *, field: str, done: str) -> Response:
    """Run one service call; its refusal is shown on the page next to `field`."""
    try:
        work()
    except Problem as exc:
        session.rollback()
        return _members_page(request, user, session, status=exc.status,
                             errors=errors_of(exc, field))
    return see_other(done)


@router.post("/members/invitations/{invitation_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, invitation_id: str, user: AdminDep, form: FormDep,
           session: SessionDep) -> Response:
    return _act(request, user, session, lambda: service.revoke(
        session, user.org_id, invitation_id[:64], actor=user.principal.actor),
        field="invitations", done="/console/members?revoked=1")


@router.post("/members/{member_id}/role", response_class=HTMLResponse)
def change_role(request: Request, member_id: str, user: AdminDep, form: FormDep,
                session: SessionDep) -> Response:
    return _act(request, user, session, lambda: service.change_role(
        session, user.org_id, member_id[:64], str(form.get("role", "")),
        actor=user.principal.actor), field="members", done="/console/members?role=1")


@router.post("/members/{member_id}/remove", response_class=HTMLResponse)
async def remove(request: Request, member_id: str, user: AdminDep, form: FormDep,
                 session: SessionDep, settings: SettingsDep) -> Response:
    member_id = member_id[:64]
    try:
        requested = service.request_removal(session, user.org_id, member_id,
                                            actor=user.principal.actor)
    except Problem as exc:
        session.rollback()
        return _members_page(request, user, session, status=exc.status,
                             errors=errors_of(exc, "members"))
    session.commit()  # the member's keys and sessions end here; the workflow reads the row
    try:
        client = await request.app.state.temporal.get()
        await start_offboarding(client, settings.task_queue, user.org_id, member_id,
                                requested.request.id)
    except (ConnectionError, RPCError) as exc:
        raise Unavailable(f"the removal is recorded and the member's access ended, but its "
                          f"offboarding could not start ({exc}): remove them again") from None
    return see_other(f"/console/members/{member_id}/removal")


@router.get("/members/{member_id}/removal", response_class=HTMLResponse)
def removal_page(request: Request, member_id: str, user: AdminDep,
                 session: SessionDep) -> Response:
    row, counts = service.removal_status(session, user.org_id, member_id[:64])
    return page(request, "member_removal.html", user, removal=removal_out(row, counts))


# -- the invitee's side ------------------------------------------------------------------------

@router.get("/invitation", response_class=HTMLResponse)
def invitation_page(request: Request, session: SessionDep, settings: SettingsDep,
                    org: str = "", token: str = "") -> Response:
    row = members.invitation_by_hash(session, service.token_hash(settings.pepper_bytes,
                                                                 token[:200]))
    target = session.get(Organization, row.org_id) if row else None
    if (row is None or target is None or row.org_id != org[:64]
            or members.invitation_status(row, utcnow()) != "pending"):
        raise InvitationNotValid("the invitation was used, replaced, revoked or has expired: "
                                 "ask the organization's admin for a new one")
    return signed_out_page(request, "invitation.html", token=token, org_id=row.org_id,
                           org_name=target.name, email=row.email, role=row.role)


@router.post("/invitation", response_class=HTMLResponse)
def accept_invitation(request: Request, form: SignedOutFormDep, session: SessionDep,
                      settings: SettingsDep) -> Response:
    org_id = str(form.get("org", ""))[:64]
    joined = service.accept(session, org_id, str(form.get("token", ""))[:200],
                            name=str(form.get("name", ""))[:200],
                            pepper=settings.pepper_bytes, with_key=False)
    return start_session(request, session, settings, org_id, joined.member.id)
