"""Sign-in by mailed link, and sign-out.

Asking for a link answers the same whether or not the address is a member, so addresses cannot
be probed; requests are limited per address and per client in the database, so every replica
counts the same. A link's GET only shows a button (mail scanners that fetch links do not use
it up); the POST consumes it, once, and starts the session.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.console import security
from api.console.auth import (
    FormDep,
    MaybeUserDep,
    SignedOutFormDep,
    is_https,
    pre_session_cookie,
)
from api.console.mail import deliver_now, queue_sign_in_mail
from api.console.render import FieldError, page, see_other
from api.deps import SessionDep, SettingsDep
from api.problems import BadRequest, InvalidInput
from api.routes.orgs import EMAIL_PATTERN
from core.settings import Settings
from store import console_auth
from store.base import utcnow
from store.models import Member, MemberStatus, Organization

router = APIRouter()

LINK_LIFETIME = timedelta(minutes=15)
RATE_WINDOW = timedelta(minutes=15)
PER_ADDRESS = 5  # sign-in mails per address per window
PER_CLIENT = 20  # sign-in requests per client address per window


class LinkNotValid(BadRequest):
    slug = "sign-in-link-not-valid"
    title = "This sign-in link is not valid"


def signed_out_page(request: Request, template: str, *, status: int = 200,
                    **context: object) -> HTMLResponse:
    """A page with a form for a signed-out browser: its CSRF token is bound to a pre-session
    cookie, set here when the browser has none."""
    settings = request.app.state.settings
    binding = pre_session_cookie(request)
    fresh = binding is None
    binding = binding or security.new_secret()
    response = page(request, template, None, status=status,
                    csrf=security.csrf_token(settings.pepper_bytes, binding), **context)
    if fresh:
        response.set_cookie(security.cookie_name(security.PRE_SESSION_COOKIE, is_https(request)),
                            binding, httponly=True, samesite="lax", secure=is_https(request),
                            path="/")
    return response


@router.get("/signin", response_class=HTMLResponse)
def sign_in_form(request: Request, user: MaybeUserDep) -> Response:
    if user is not None:
        return see_other("/console/settings")
    notice = ""
    if request.query_params.get("signed_out"):
        notice = "You are signed out."
    elif request.query_params.get("expired"):
        notice = "Your session ended: sign in again."
    return signed_out_page(request, "signin.html", notice=notice, email="")


@router.post("/signin", response_class=HTMLResponse)
def request_link(request: Request, form: SignedOutFormDep, session: SessionDep,
                 settings: SettingsDep, background: BackgroundTasks) -> Response:
    email = str(form.get("email", "")).strip()
    if not re.fullmatch(EMAIL_PATTERN, email) or len(email) > 320:
        return signed_out_page(request, "signin.html", status=422, email=email, errors={
            "email": FieldError(InvalidInput.title, "enter the email address you were "
                                                    "invited with")})
    now = utcnow()
    pepper = settings.pepper_bytes
    client = request.client.host if request.client else "unknown"
    by_address = console_auth.count_attempt(
        session, security.keyed_hash(pepper, "signin-address", email.lower()).hex(), now,
        RATE_WINDOW)
    by_client = console_auth.count_attempt(
        session, security.keyed_hash(pepper, "signin-client", client).hex(), now, RATE_WINDOW)
    if by_address > PER_ADDRESS or by_client > PER_CLIENT:
        minutes = int(RATE_WINDOW.total_seconds() // 60)
        return signed_out_page(request, "signin.html", status=429, email=email, errors={
            "email": FieldError("Too many sign-in requests",
                                f"wait up to {minutes} minutes, then ask for a new link")})
    keys = []
    for member, org in console_auth.memberships(session, email):
        token = security.new_secret()
        link = console_auth.add_link(
            session, token_hash=security.keyed_hash(pepper, "console-link", token),
            org_id=org.id, member_id=member.id, now=now, lifetime=LINK_LIFETIME)
        url = f"{settings.effective_console_url}/console/signin/link?token={token}"
        keys.append(queue_sign_in_mail(
            session, link_id=link.id, org_id=org.id, org_name=org.name,
            recipient=member.email, url=url,
            minutes=int(LINK_LIFETIME.total_seconds() // 60)))
    console_auth.scrub_expired_link_mail(session, now, LINK_LIFETIME)
    background.add_task(deliver_now, request.app.state.temporal, settings.task_queue, keys)
    return signed_out_page(request, "signin_sent.html", email=email)


def _link_hash(request: Request, token: str) -> bytes:
    return security.keyed_hash(request.app.state.settings.pepper_bytes, "console-link", token)


@router.get("/signin/link", response_class=HTMLResponse)
def confirm_link(request: Request, session: SessionDep, token: str = "") -> Response:
    link = console_auth.usable_link(session, _link_hash(request, token[:100]), utcnow())
    member = session.get(Member, link.member_id) if link else None
    org = session.get(Organization, link.org_id) if link else None
    if link is None or member is None or org is None:
        raise LinkNotValid("the link was already used or has expired: ask for a new one")
    return signed_out_page(request, "signin_confirm.html", token=token, org_name=org.name,
                           email=member.email)


@router.post("/signin/link", response_class=HTMLResponse)
def use_link(request: Request, form: SignedOutFormDep, session: SessionDep,
             settings: SettingsDep) -> Response:
    now = utcnow()
    token = str(form.get("token", ""))[:100]
    link = console_auth.consume_link(session, _link_hash(request, token), now)
    member = session.get(Member, link.member_id) if link else None
    if (link is None or member is None or member.org_id != link.org_id
            or member.status is not MemberStatus.ACTIVE):
        raise LinkNotValid("the link was already used or has expired: ask for a new one")
    return start_session(request, session, settings, link.org_id, link.member_id)


def start_session(request: Request, session: Session, settings: Settings, org_id: str,
                  member_id: str) -> Response:
    """A new session for the member (its id kept only as an HMAC), its cookie set on the
    redirect to Settings: a used sign-in link or an accepted invitation."""
    secret = security.new_secret()
    lifetime = timedelta(hours=settings.console_session_max_hours)
    console_auth.add_session(
        session, id_hash=security.keyed_hash(settings.pepper_bytes, "console-session", secret),
        org_id=org_id, member_id=member_id, now=utcnow(), lifetime=lifetime)
    response = see_other("/console/settings")
    response.set_cookie(security.cookie_name(security.SESSION_COOKIE, is_https(request)), secret,
                        max_age=int(lifetime.total_seconds()), httponly=True, samesite="lax",
                        secure=is_https(request), path="/")
    return response


@router.post("/signout")
def sign_out(request: Request, form: FormDep, user: MaybeUserDep,
             session: SessionDep) -> Response:
    if user is not None:
        console_auth.end_session(session, user.session_id)
    response = see_other("/console/signin?signed_out=1")
    response.delete_cookie(security.cookie_name(security.SESSION_COOKIE, is_https(request)),
                           path="/", httponly=True, samesite="lax", secure=is_https(request))
    return response
