"""API key queries: create, list, extend, delete, the lookups of the key check, and the
status rule the console shows.

Shared by the API and the key-expiry sweep, so "expiring" means the same thing in a list and
in a reminder. Functions take the caller's session and never commit (the request or activity
scope does), so a refused bulk delete leaves every key in place.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    delete,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from core import keyformat
from core import webhook_events as events
from store import webhooks
from store.base import new_id, rowcount
from store.models import (
    ApiKey,
    KeyScope,
    KeyTombstone,
    Member,
    MemberStatus,
    Organization,
    OrgStatus,
    Project,
    ProjectStatus,
    Role,
)
from store.paging import keyset_rows, keyset_statement

EXPIRING_WITHIN = timedelta(days=7)
LAST_USED_EVERY = timedelta(minutes=5)
ACTIVE, EXPIRING, EXPIRED, REVOKED = "active", "expiring", "expired", "revoked"


def expires_soon(expires_at: datetime, now: datetime) -> bool:
    """Within 7 days of its expiry: the key list says "expiring", and every response to a
    request made with the key carries a warning header."""
    return expires_at - now <= EXPIRING_WITHIN


def key_status(key: ApiKey | KeyListRow, now: datetime) -> str:
    """revoked > expired > expiring (within 7 days) > active; computed, never stored."""
    if key.revoked_at is not None:
        return REVOKED
    if key.expires_at <= now:
        return EXPIRED
    if expires_soon(key.expires_at, now):
        return EXPIRING
    return ACTIVE


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKey
    secret: str  # shown to the caller once, never stored


def create_key(session: Session, *, org_id: str, scope: KeyScope, project_id: str | None,
               name: str, created_by: str | None, lifetime_days: int, pepper: bytes,
               now: datetime) -> CreatedKey:
    made = keyformat.generate(scope.value, pepper)
    row = ApiKey(id=new_id(), org_id=org_id, scope=scope, project_id=project_id, name=name,
                 prefix=made.prefix, secret_hash=made.secret_hash, created_by=created_by,
                 created_at=now, expires_at=now + timedelta(days=lifetime_days))
    session.add(row)
    session.flush()
    return CreatedKey(row=row, secret=made.secret)


def get_key(session: Session, org_id: str, key_id: str, *, lock: bool = False) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == org_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    """The key with this public prefix (unique), whatever its state: the caller checks it."""
    return session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class KeyRow:
    """The columns of a key that its check reads, as plain values.

    Not a loaded `ApiKey`: the check runs on every request, and loading an entity (its
    instance state, the identity map) cost about as much CPU as the rest of the check.
    """

    id: str
    org_id: str
    scope: KeyScope
    project_id: str | None
    prefix: str
    secret_hash: bytes
    created_by: str | None
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


_KEYS = ApiKey.__table__
_KEY_COLUMNS = tuple(_KEYS.c[name] for name in KeyRow.__slots__)


@dataclass(frozen=True)
class KeyCheck:
    """Everything the key check asks about a key, read in one statement.

    `creator_role`/`creator_status` are the creating member's in the key's own org (None when
    nobody created it or the member row is gone); `project_status` is None for a team key or
    a project that is gone.
    """

    key: KeyRow
    org_status: OrgStatus
    creator_role: Role | None
    creator_status: MemberStatus | None
    project_status: ProjectStatus | None


def key_check(session: Session, prefix: str) -> KeyCheck | None:
    """The key with this prefix and the states it depends on, in one indexed query."""
    return key_lookup(session, prefix).check


@dataclass(frozen=True)
class KeyLookup:
    """A key check's answer, and the values of the columns its caller asked to read along."""

    check: KeyCheck | None
    also: tuple[Any, ...]


def key_lookup(session: Session, prefix: str,
               also: Sequence[ColumnElement[Any] | ScalarSelect[Any]] = (),
               params: dict[str, Any] | None = None) -> KeyLookup:
    """The key with this prefix and the states it depends on, and `also` (columns on bound
    parameters, valued by `params`, built once by the caller), in one query.

    The unique prefix index finds the key; the org, the creator and the project are primary
    key lookups joined to it, so a request costs one round trip instead of four, and every
    answer is read fresh in the request's transaction: a revoke, a freeze or a member removal
    committed before it is seen at once, with no cache to invalidate. The joins hang off a
    one-row select, so `also` (the failed-authentication throttle's counts) is answered even
    for a prefix nobody holds. The statement is built once per `also`: on the hot path of
    every request, building it cost more CPU than the database took to answer it.
    """
    # Core columns on the session's connection: rows, not entities (see `KeyRow`); the
    # first statement of a request, so there is nothing pending to flush before it.
    found = session.connection().execute(_lookup_statement(tuple(also)),
                                         {"key_prefix": prefix, **(params or {})}).one()
    width = len(_KEY_COLUMNS)
    org_status, role, member_status, project_status = found[width:width + 4]
    check = None if found[0] is None else KeyCheck(
        key=KeyRow(*found[:width]), org_status=org_status, creator_role=role,
        creator_status=member_status, project_status=project_status)
    return KeyLookup(check, tuple(found[width + 4:]))


@functools.lru_cache(maxsize=8)
def _lookup_statement(also: tuple[ColumnElement[Any] | ScalarSelect[Any], ...]) -> Select[Any]:
    one = select(literal(1).label("one")).subquery()
    orgs, members, projects = (Organization.__table__, Member.__table__, Project.__table__)
    return (select(*_KEY_COLUMNS, orgs.c.status, members.c.role, members.c.status,
                   projects.c.status, *also)
            .select_from(one)
            .outerjoin(_KEYS, _KEYS.c.prefix == bindparam("key_prefix"))
            .outerjoin(orgs, orgs.c.id == _KEYS.c.org_id)
            .outerjoin(members, and_(members.c.id == _KEYS.c.created_by,
                                     members.c.org_id == _KEYS.c.org_id))
            .outerjoin(projects, projects.c.id == _KEYS.c.project_id))


class CreatorGone(Exception):
    """The member who created a team key is being removed, or was: the key acts for nobody."""


def creator_role(check: KeyCheck) -> Role | None:
    """The role of the member who created a team key, in the key's own org (None for a
    project key, or a key nobody created, such as a seeded one): a team key acts with it.

    Raises `CreatorGone` when that member is being removed or is gone, so their keys stop
    authenticating the moment the removal is requested, before the offboarding revokes them.
    """
    key = check.key
    if key.scope is not KeyScope.TEAM or key.created_by is None:
        return None
    if check.creator_role is None or check.creator_status is not MemberStatus.ACTIVE:
        raise CreatorGone(key.created_by)
    return check.creator_role


def record_use(session: Session, key: KeyRow | ApiKey, now: datetime) -> None:
    """Stamp `last_used_at` at most once per `LAST_USED_EVERY`, so busy keys do not write on
    every call.

    The conditional UPDATE is race-free across API replicas. It runs in the caller's
    transaction, so a request that fails leaves `last_used_at` as it was.
    """
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return
    session.execute(update(ApiKey).where(
        ApiKey.id == key.id,
        or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_EVERY))
        .values(last_used_at=now).execution_options(synchronize_session=False))


class KeyListRow(NamedTuple):
    """The columns of a key that the key lists and the sweep's digests show, as plain values:
    never the secret's hash.

    Rows, not loaded `ApiKey` entities: loading a page of 50 into the session's identity map
    cost more CPU than the rest of the listing. A named tuple, not a slotted dataclass like
    `KeyRow`: it is made from the row at tuple speed, fifty times a page.
    """

    id: str  # first: the page's cursor is read from it
    name: str
    prefix: str
    scope: KeyScope
    project_id: str | None
    created_by: str | None
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    rolled_from: str | None


def _list_statement(*where: ColumnElement[bool]) -> Select[Any]:
    columns = select(*(_KEYS.c[name] for name in KeyListRow._fields))
    return keyset_statement(columns.where(_KEYS.c.org_id == bindparam("list_org"), *where),
                            _KEYS.c.id)


# Built once, on bound parameters (the org, the project, the page's cursor and size), as the
# key check's and the org view's are: not rebuilt, and keyed for the compiled cache, on every
# request.
_ORG_KEYS = _list_statement()
_PROJECT_KEYS = _list_statement(_KEYS.c.project_id == bindparam("list_project"))


def list_keys(session: Session, org_id: str, *, project_id: str | None = None,
              limit: int = 50, after: str = "") -> tuple[list[KeyListRow], str | None]:
    """One page in id order (keyset: stable under concurrent inserts); the next cursor."""
    if project_id is None:
        statement, params = _ORG_KEYS, {"list_org": org_id}
    else:
        statement, params = _PROJECT_KEYS, {"list_org": org_id, "list_project": project_id}
    rows, next_cursor = keyset_rows(session, statement, params, limit=limit, after=after)
    return [KeyListRow._make(row) for row in rows], next_cursor


class ExtensionRefused(Exception):
    """The key cannot be extended (revoked, or past the org's maximum lifetime)."""

    def __init__(self, message: str, latest: datetime | None = None) -> None:
        super().__init__(message)
        self.latest = latest


def extend_key(key: ApiKey, days: int, max_lifetime_days: int,
               now: datetime) -> tuple[datetime, datetime]:
    """New expiry = max(now, expires_at) + days, at most created_at + max lifetime.

    An expired key may be extended (it starts again from now) as long as the cap allows: the
    console's "Edit key" does the same. Returns (old, new) expiry.
    """
    if key.revoked_at is not None:
        raise ExtensionRefused("a revoked key cannot be extended")
    old = key.expires_at
    new = max(now, old) + timedelta(days=days)
    latest = key.created_at + timedelta(days=max_lifetime_days)
    if new > latest:
        raise ExtensionRefused(
            f"keys of this organization live at most {max_lifetime_days} days: this key can "
            f"be extended until {latest.isoformat()} at the latest", latest)
    key.expires_at = new
    return old, new


def delete_keys(session: Session, rows: Sequence[ApiKey], actor: str, now: datetime) -> int:
    """Delete keys for good, leaving a tombstone each (id, prefix, name, scope, actor, time)."""
    if not rows:
        return 0
    session.execute(insert(KeyTombstone), [dict(
        org_id=r.org_id, key_id=r.id, prefix=r.prefix, name=r.name, scope=r.scope,
        project_id=r.project_id, deleted_by=actor, deleted_at=now) for r in rows])
    result = session.execute(delete(ApiKey).where(ApiKey.id.in_([r.id for r in rows]))
                             .execution_options(synchronize_session=False))
    for row in rows:
        session.expunge(row)
    return rowcount(result)


def insert_keys(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, ApiKey]:
    """Insert key rows (already hashed) in one executemany; the stored keys by id."""
    if not rows:
        return {}
    session.execute(insert(ApiKey), list(rows))
    ids = [str(row["id"]) for row in rows]
    return {key.id: key for key in session.scalars(select(ApiKey).where(ApiKey.id.in_(ids)))}


def admin_capable_keys(session: Session, org_id: str, now: datetime) -> set[str]:
    """Ids of the org's keys that can administer it: live team keys made by an admin."""
    return set(session.execute(
        select(ApiKey.id).join(Member, Member.id == ApiKey.created_by)
        .where(ApiKey.org_id == org_id, ApiKey.scope == KeyScope.TEAM,
               ApiKey.revoked_at.is_(None), ApiKey.expires_at > now,
               Member.role == Role.ADMIN)).scalars().all())


def key_data(key: ApiKey) -> dict[str, Any]:
    """What a key's events say about it: ids, its public prefix and name, times; no secret."""
    return {"key_id": key.id, "prefix": key.prefix, "name": key.name,
            "scope": key.scope.value, "project_id": key.project_id,
            "created_by": key.created_by, "expires_at": key.expires_at.isoformat()}


def emit_revoked(session: Session, key: ApiKey, reason: str,
                 now: datetime | None = None) -> None:
    """`api_key.revoked` with its `reason` (`deleted`, `leaked`, `unused`), one per key."""
    webhooks.emit(session, key.org_id, events.API_KEY_REVOKED, f"api_key:{key.id}:revoked",
                  {**key_data(key), "reason": reason}, now=now)
