"""Who is using the console: the session cookie, checked on every request.

A session is valid only while its row exists, is within its idle and absolute lifetimes, its
member still belongs to its org (and is not being removed) and the org exists: removing a
member or deleting the org ends every session at once, with no list of sessions to revoke.
While a teardown holds the org (frozen or deleting) its admin still reaches the danger zone,
to watch or cancel, and nothing else; other members reach nothing.

Pages act through the API's own operations with a `ConsolePrincipal`: the member's role, and
`member:<id>` as the audit actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.auth import Principal
from api.console import security
from api.deps import SessionDep, SettingsDep
from api.problems import NotPermitted, OrgFrozen
from core.cards import CARD_NUMBER_MESSAGE, contains_card_number
from core.problems import CardNumberRefused, InvalidInput
from core.settings import Settings
from core.text import text_problem
from store import console_auth
from store.base import utcnow
from store.models import KeyScope, Member, MemberStatus, Organization, OrgStatus, Role

TOUCH_EVERY = timedelta(minutes=1)


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ConsolePrincipal(Principal):
    """The API's principal for a console member: their role, audited as `member:<id>`."""

    @property
    def actor(self) -> str:
        return f"member:{self.member_id}"


@dataclass(frozen=True)
class ConsoleUser:
    session_id: str
    secret: str
    member_id: str
    email: str
    name: str
    role: Role
    org_id: str
    org_name: str
    org_status: OrgStatus
    csrf: str
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def principal(self) -> ConsolePrincipal:
        """No key stands behind it: it acts with the member's role until the session ends."""
        return ConsolePrincipal(org_id=self.org_id, key_id="", prefix="", scope=KeyScope.TEAM,
                                project_id=None, member_id=self.member_id, role=self.role,
                                expires_at=self.expires_at)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(security.cookie_name(security.SESSION_COOKIE, is_https(request)))


def pre_session_cookie(request: Request) -> str | None:
    return request.cookies.get(
        security.cookie_name(security.PRE_SESSION_COOKIE, is_https(request)))


def load_user(session: Session, settings: Settings, secret: str | None) -> ConsoleUser | None:
    """The user behind a session secret, or None (and the stale row deleted) when it is not
    valid any more."""
    if not secret:
        return None
    row = console_auth.find_session(
        session, security.keyed_hash(settings.pepper_bytes, "console-session", secret))
    if row is None:
        return None
    now = utcnow()
    idle = timedelta(minutes=settings.console_session_idle_minutes)
    member = session.get(Member, row.member_id)
    org = session.get(Organization, row.org_id)
    if (row.expires_at <= now or now - row.last_seen_at > idle or member is None
            or org is None or member.org_id != row.org_id
            or member.status is not MemberStatus.ACTIVE):
        console_auth.end_session(session, row.id)
        session.commit()  # ended for good, even though this request now fails
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        console_auth.touch_session(session, row.id, now)
    return ConsoleUser(session_id=row.id, secret=secret, member_id=member.id,
                       email=member.email, name=member.name, role=member.role, org_id=org.id,
                       org_name=org.name, org_status=org.status,
                       csrf=security.csrf_token(settings.pepper_bytes, secret),
                       expires_at=row.expires_at)


def optional_user(request: Request, session: SessionDep,
                  settings: SettingsDep) -> ConsoleUser | None:
    user = load_user(session, settings, session_cookie(request))
    request.state.console_user = user  # for problem pages: they show who is signed in
    return user


def _signed_in(user: Annotated[ConsoleUser | None, Depends(optional_user)]) -> ConsoleUser:
    if user is None:
        raise SignInRequired("sign in to continue")
    return user


def console_user(user: Annotated[ConsoleUser, Depends(_signed_in)]) -> ConsoleUser:
    """A signed-in member of an active org: every page but the danger zone."""
    if user.org_status is not OrgStatus.ACTIVE:
        hint = (" Its danger zone shows the deletion's progress." if user.is_admin else "")
        raise OrgFrozen(f"the organization is {user.org_status.value}: a deletion is under "
                        f"way, and the console is closed until it is cancelled.{hint}",
                        org_status=user.org_status.value)
    return user


def admin_user(user: Annotated[ConsoleUser, Depends(console_user)]) -> ConsoleUser:
    if not user.is_admin:
        raise NotPermitted("only the organization's admin can do this")
    return user


def danger_user(user: Annotated[ConsoleUser, Depends(_signed_in)]) -> ConsoleUser:
    """The admin, whatever the org's state: the danger zone is theirs to watch and cancel."""
    if not user.is_admin:
        raise NotPermitted("only the organization's admin can delete it")
    return user


def refuse_card_numbers(form: FormData) -> None:
    """Refuse a form with a full card number (or a NUL, or a key) in any decoded field,
    naming the field; each field's own rule (one line for names) is its model's or
    service's."""
    for name, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if contains_card_number(value):
            raise CardNumberRefused(CARD_NUMBER_MESSAGE, field=name)
        problem = text_problem(value)  # a NUL, or an API key secret pasted into a field
        if problem is not None:
            raise InvalidInput(f"{name} {problem}", field=name)


async def _checked(request: Request, pepper: bytes, binding: str | None) -> FormData:
    """The posted form, once its CSRF token matched."""
    form = await request.form()
    presented = form.get(security.CSRF_FIELD) or request.headers.get(security.CSRF_HEADER)
    security.check_csrf(pepper, binding, presented if isinstance(presented, str) else None)
    return form


async def csrf_checked_form(request: Request, settings: SettingsDep) -> FormData:
    """A signed-in page's form, its token bound to the session (the card form scans its
    fields itself, to show the refusal next to the field)."""
    return await _checked(request, settings.pepper_bytes, session_cookie(request))


async def checked_form(request: Request, settings: SettingsDep) -> FormData:
    """A signed-in page's form: its token bound to the session, no card number in any field."""
    form = await csrf_checked_form(request, settings)
    refuse_card_numbers(form)
    return form


async def checked_signed_out_form(request: Request, settings: SettingsDep) -> FormData:
    """A sign-in form: its token is bound to the pre-session cookie."""
    form = await _checked(request, settings.pepper_bytes, pre_session_cookie(request))
    refuse_card_numbers(form)
    return form


UserDep = Annotated[ConsoleUser, Depends(console_user)]
AdminDep = Annotated[ConsoleUser, Depends(admin_user)]
DangerDep = Annotated[ConsoleUser, Depends(danger_user)]
MaybeUserDep = Annotated[ConsoleUser | None, Depends(optional_user)]
FormDep = Annotated[FormData, Depends(checked_form)]
CsrfFormDep = Annotated[FormData, Depends(csrf_checked_form)]
SignedOutFormDep = Annotated[FormData, Depends(checked_signed_out_form)]
