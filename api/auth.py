"""Who is calling: API keys for org admins and members, one operator credential for ops.

A key is checked on every request, whatever the sweep did (expiry is enforced at use, not by
the sweep): well-formed (type prefix and checksum), known by its public prefix, its keyed hash
equal in constant time, not revoked, not expired, a team key's creator still an active member
(a member being removed loses every key they made at once, before the offboarding revokes
them), and its org active (frozen means frozen: a
frozen org's keys stop working, so a purge cannot race new data); a project key also needs its
project active (a project being deleted refuses its keys for the same reason). The one
exception is `TeardownKeyDep`, used only by the teardown routes: starting a teardown freezes
the org, and its admin must still be able to watch, cancel or expedite it, so there an admin
team key of a frozen or deleting org is accepted.

All of it is one indexed query (`store.apikeys.key_lookup`: the key by its unique prefix, its
org, creator and project joined by primary key, and the failed-authentication throttle's
counts for the caller's address and the key's prefix), read fresh in the request's transaction, so a
revoke, a freeze or a member removal is refused by the next request on every replica, with no
cache to invalidate.

The presented key is never logged or echoed: problems name the key only by its prefix, and
only once the prefix is known to be ours.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep, SessionFactoryDep, SettingsDep
from api.problems import NotPermitted, OrgFrozen, ProjectFrozen, Unauthorized
from api.route_marks import in_route_thread
from api.throttle import Throttle, guarded
from core import keyformat
from core.settings import Settings
from store import apikeys
from store.base import utcnow
from store.models import KeyScope, OrgStatus, ProjectStatus, Role

EXPIRES_HEADER = "X-Key-Expires-At"
# A fixed hash to compare against when the prefix is unknown, so an unknown key costs the same
# HMAC work as a wrong one.
_DUMMY_HASH = bytes(32)


@dataclass(frozen=True)
class Principal:
    """An authenticated API key: what it may touch and with which role.

    A team key acts with the role of the member who created it on its own org; a project key
    acts on its own project only and never has the admin role.
    """

    org_id: str
    key_id: str
    prefix: str
    scope: KeyScope
    project_id: str | None
    member_id: str | None
    role: Role | None
    expires_at: datetime

    @property
    def actor(self) -> str:
        return f"key:{self.prefix}"

    @property
    def is_admin(self) -> bool:
        return self.scope is KeyScope.TEAM and self.role is Role.ADMIN

    def require_org(self, org_id: str) -> None:
        if org_id != self.org_id:
            raise NotPermitted("this key belongs to another organization")

    def require_team(self, org_id: str) -> None:
        self.require_org(org_id)
        if self.scope is not KeyScope.TEAM:
            raise NotPermitted("a project key acts on its own project only")

    def require_admin(self, org_id: str) -> None:
        self.require_team(org_id)
        if not self.is_admin:
            raise NotPermitted("this action needs a team key created by the org admin")

    def require_project_read(self, org_id: str, project_id: str) -> None:
        """Any team key of the org reads every project; a project key only its own."""
        self.require_org(org_id)
        if self.scope is KeyScope.PROJECT and project_id != self.project_id:
            raise NotPermitted("this project key belongs to another project")

    def require_project(self, org_id: str, project_id: str) -> None:
        """Admins reach every project of their org; a project key only its own project."""
        self.require_org(org_id)
        if self.scope is KeyScope.PROJECT:
            if project_id != self.project_id:
                raise NotPermitted("this project key belongs to another project")
        elif not self.is_admin:
            raise NotPermitted("this action needs an admin team key or the project's key")


@dataclass(frozen=True)
class Operator:
    """The operator credential: cross-org, read-mostly ops views."""

    actor: str = "operator"


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <key>'")
    return token.strip()


def authenticate(session: Session, settings: Settings, token: str, *,
                 allow_frozen: bool = False, now: datetime | None = None,
                 throttle: Throttle | None = None) -> Principal:
    """The principal for `token`, or a 401/403 problem; never says which check failed first
    for an unknown key, so a caller cannot probe prefixes.

    With `throttle`, its counts are read in the key check's own statement and a full bucket
    is refused (429) before any answer about the key.
    """
    now = now or utcnow()
    if keyformat.scope_of(token) is None:
        if throttle is not None:
            throttle.read(session)
        raise Unauthorized("the API key is malformed")
    lookup = apikeys.key_lookup(session, token[:keyformat.PREFIX_LEN],
                                throttle.columns() if throttle is not None else (),
                                throttle.params() if throttle is not None else None)
    if throttle is not None:
        throttle.enforce(lookup.also)
    check = lookup.check
    row = check.key if check else None
    good = keyformat.matches(token, row.secret_hash if row else _DUMMY_HASH, settings.pepper_bytes)
    if check is None or row is None or not good:
        raise Unauthorized("the API key is not valid")
    if row.revoked_at is not None:
        raise Unauthorized("the API key was revoked", key_prefix=row.prefix)
    if row.expires_at <= now:
        raise Unauthorized("the API key has expired", key_prefix=row.prefix,
                           expired_at=row.expires_at.isoformat())
    try:
        role = apikeys.creator_role(check)
    except apikeys.CreatorGone:
        raise Unauthorized("the member who created this API key was removed from the "
                           "organization", key_prefix=row.prefix) from None
    principal = Principal(org_id=row.org_id, key_id=row.id, prefix=row.prefix, scope=row.scope,
                          project_id=row.project_id, member_id=row.created_by, role=role,
                          expires_at=row.expires_at)
    status = check.org_status
    if status is not OrgStatus.ACTIVE and not (allow_frozen and principal.is_admin):
        raise OrgFrozen(f"the organization is {status.value}: its keys are refused while a "
                        "teardown is under way", org_status=status.value)
    if row.project_id is not None:  # a project key is refused while its project is deleted
        project_status = check.project_status
        if project_status is not ProjectStatus.ACTIVE:
            raise ProjectFrozen("the project is being deleted: its keys are refused",
                                project_status=project_status.value if project_status
                                else None)
    apikeys.record_use(session, row, now)
    return principal


def _warn_if_expiring(response: Response, principal: Principal) -> None:
    """Tell the caller (and whoever reads their logs) that the key runs out soon."""
    if apikeys.expires_soon(principal.expires_at, utcnow()):
        stamp = principal.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        response.headers[EXPIRES_HEADER] = stamp
        response.headers["Warning"] = f'299 - "API key expires {stamp}"'


def _authenticate(request: Request, session: Session, settings: Settings, *,
                  allow_frozen: bool = False) -> Principal:
    """`authenticate` behind the failed-authentication throttle, whose counts it reads in the
    key check's statement."""
    token = bearer_token(request)
    throttle = Throttle(request, settings, token)
    return throttle.run(lambda: authenticate(session, settings, token,
                                             allow_frozen=allow_frozen, throttle=throttle))


def _check_alone(request: Request, *, allow_frozen: bool = False) -> None:
    """The key check in a transaction of its own, rolled back: its refusal, if any, for a
    request whose input FastAPI refused before the check could run (`api.one_hop`)."""
    state = request.app.state
    with state.session_factory() as session:
        _authenticate(request, session, state.settings, allow_frozen=allow_frozen)


@in_route_thread(_check_alone)
def key_principal(request: Request, response: Response, session: SessionDep,
                  settings: SettingsDep) -> Principal:
    principal = _authenticate(request, session, settings)
    _warn_if_expiring(response, principal)
    return principal


def key_principal_committed(request: Request, response: Response, factory: SessionFactoryDep,
                            settings: SettingsDep) -> Principal:
    """Like `key_principal`, but checked in a transaction of its own, committed before the
    route's body runs.

    For routes that wait on a workflow whose activity writes to the database: in the request's
    transaction the key's last-used stamp would hold its lock (on SQLite the database's one
    write lock) until the route returns, so the activity would wait for the route that waits
    for it. A request that fails later keeps the stamp: the key was used.
    """
    with factory.begin() as session:
        principal = _authenticate(request, session, settings)
    _warn_if_expiring(response, principal)
    return principal


@in_route_thread(functools.partial(_check_alone, allow_frozen=True))
def teardown_principal(request: Request, response: Response, session: SessionDep,
                       settings: SettingsDep) -> Principal:
    """Like `key_principal`, but an admin team key still works while its org is frozen."""
    principal = _authenticate(request, session, settings, allow_frozen=True)
    _warn_if_expiring(response, principal)
    return principal


def is_operator(settings: Settings, token: str) -> bool:
    expected = settings.operator_token.get_secret_value()
    # An empty token would let an empty header in: with no token configured, nobody is one.
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def operator(request: Request, settings: SettingsDep) -> Operator:
    token = bearer_token(request)

    def check() -> Operator:
        if not is_operator(settings, token):
            raise Unauthorized("this endpoint needs the operator credential")
        return Operator()

    return guarded(request, settings, token, check)


def operator_or_teardown_admin(request: Request, response: Response, session: SessionDep,
                               settings: SettingsDep) -> Operator | Principal:
    """The teardown status after the org is gone is the operator's; before, also its admin's."""
    token = bearer_token(request)
    principal = guarded(request, settings, token, lambda: Operator() if is_operator(
        settings, token) else authenticate(session, settings, token, allow_frozen=True), session)
    if isinstance(principal, Operator):
        return principal
    _warn_if_expiring(response, principal)
    return principal


KeyDep = Annotated[Principal, Depends(key_principal)]
KeyCommittedDep = Annotated[Principal, Depends(key_principal_committed)]
TeardownKeyDep = Annotated[Principal, Depends(teardown_principal)]
OperatorDep = Annotated[Operator, Depends(operator)]
OperatorOrAdminDep = Annotated[Operator | Principal, Depends(operator_or_teardown_admin)]
