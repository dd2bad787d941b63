"""Queries of the sweep's unused-key phase: idle keys of orgs with a policy, and revoking them.

Why a walk by org and then by key id, not one statement over every key: the policy's length is
the org's own, and "idle since before now minus N days" written per row is a different date
function on each database. The orgs that set a policy are read a page at a time in id order,
and each one's due keys by its `org_id` index with a cutoff computed here; the cursor is
`<org id>|<key id>` so a page may end inside a large org.

Revoking is one conditional UPDATE per org that re-checks, on the row, that the key is still
live and still idle since before the cutoff: a key used (or revoked) between the read and the
write is left alone, and of two overlapping sweeps only the one whose UPDATE changed the row
writes the audit and webhook events, so each key is revoked, and announced, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core import key_policy
from store.apikeys import emit_revoked
from store.audit import audit_many
from store.models import ApiKey, Organization, OrgStatus

REVOKED = "api_key.revoked"  # audit action, as a key deleted or leaked
FINISHED = "~"  # a cursor's key part once every key of its org is done
ORGS_PER_PAGE = 500  # a key query each: bounds a page's round trips whatever its key limit


@dataclass(frozen=True)
class IdleKey:
    id: str
    org_id: str
    idle_from: datetime  # its last use, or its creation
    days: int  # the org's policy


def _idle_before(cutoff: datetime) -> ColumnElement[bool]:
    return or_(ApiKey.last_used_at <= cutoff,
               and_(ApiKey.last_used_at.is_(None), ApiKey.created_at <= cutoff))


def _cursor(raw: str) -> tuple[str, str]:
    org_id, _, key_id = raw.partition("|")
    return org_id, key_id


def idle_keys(session: Session, now: datetime, cursor: str, limit: int
              ) -> tuple[list[IdleKey], str, bool]:
    """Up to `limit` live keys idle long enough for their notice, after `cursor`; the next
    cursor, and whether the walk is done."""
    after_org, after_key = _cursor(cursor)
    # the cursor's org again unless the last page finished it
    from_org = (Organization.id > after_org if after_key == FINISHED
                else Organization.id >= after_org)
    policies = session.execute(
        select(Organization.id, Organization.revoke_unused_keys_after_days)
        .where(Organization.revoke_unused_keys_after_days.is_not(None),
               Organization.status == OrgStatus.ACTIVE, from_org)
        .order_by(Organization.id).limit(min(limit, ORGS_PER_PAGE))).all()
    found: list[IdleKey] = []
    next_cursor = cursor
    for org_id, policy in policies:
        days: int = policy or 0  # never 0: the query asked for orgs with a policy
        query = (select(ApiKey.id, ApiKey.last_used_at, ApiKey.created_at)
                 .where(ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None),
                        ApiKey.expires_at > now,
                        _idle_before(key_policy.notice_cutoff(now, days)))
                 .order_by(ApiKey.id).limit(limit - len(found)))
        if org_id == after_org:
            query = query.where(ApiKey.id > after_key)
        rows = session.execute(query).all()
        found += [IdleKey(r.id, org_id, key_policy.idle_since(r.last_used_at, r.created_at),
                          days) for r in rows]
        if len(found) >= limit:
            return found, f"{org_id}|{rows[-1].id}", False
        next_cursor = f"{org_id}|{FINISHED}"
    return found, next_cursor, len(policies) < min(limit, ORGS_PER_PAGE)


def revoke(session: Session, org_id: str, key_ids: Sequence[str], days: int, now: datetime,
           actor: str) -> list[ApiKey]:
    """Revoke the org's keys among `key_ids` that are still live and idle past its policy of
    `days`, with an audit event and an `api_key.revoked` webhook event (reason `unused`) each;
    returns the keys this call revoked."""
    if not key_ids:
        return []
    ids = list(session.scalars(update(ApiKey).where(
        ApiKey.org_id == org_id, ApiKey.id.in_(key_ids), ApiKey.revoked_at.is_(None),
        _idle_before(key_policy.revoke_cutoff(now, days)))
        .values(revoked_at=now).returning(ApiKey.id)))
    if not ids:
        return []
    keys = list(session.scalars(select(ApiKey).where(ApiKey.id.in_(ids))
                                .order_by(ApiKey.id).execution_options(populate_existing=True)))
    audit_many(session, actor, REVOKED, [(org_id, f"key:{k.prefix}") for k in keys],
               [dict(reason=key_policy.REASON, unused_days=days,
                     unused_since=key_policy.idle_since(k.last_used_at, k.created_at)
                     .isoformat()) for k in keys])
    for key in keys:
        emit_revoked(session, key, key_policy.REASON, now)
    return keys
