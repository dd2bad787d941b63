"""Creating API keys: team keys (org scope) and project keys, one or many at once.

The secret is made here and handed back once (`CreatedKey.secret`); only its prefix and keyed
hash are stored. A project key can only be made for an active project of an active org: a
project being deleted takes its keys with it, so a new one would only race the purge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from core import keyformat
from core import webhook_events as events
from core.problems import Conflict, InvalidInput, NotFound
from services.guards import active_project, writable_org
from services.names import check_name
from store import apikeys, console_auth, projects, webhooks
from store.audit import audit, audit_many
from store.base import new_id, utcnow
from store.models import ApiKey, KeyScope


@dataclass(frozen=True)
class KeySpec:
    name: str
    lifetime_days: int
    created_by: str | None
    project_id: str | None = None  # None: a team key

    @property
    def scope(self) -> KeyScope:
        return KeyScope.TEAM if self.project_id is None else KeyScope.PROJECT


def create_keys(session: Session, org_id: str, specs: Sequence[KeySpec], *, pepper: bytes,
                actor: str) -> list[apikeys.CreatedKey]:
    """Make the keys of `specs` in one insert; each with its secret, shown to the caller once."""
    org = writable_org(session, org_id)
    wanted = sorted({s.project_id for s in specs if s.project_id is not None})
    found = projects.projects_in(session, org_id, wanted)
    for project_id in wanted:
        if project_id not in found:
            raise NotFound(f"project {project_id} does not exist in this organization")
        active_project(found[project_id])
    for spec in specs:
        check_name(spec.name)
        if not 1 <= spec.lifetime_days <= org.max_key_lifetime_days:
            raise InvalidInput(f"keys of this organization live at most "
                               f"{org.max_key_lifetime_days} days", field="expires_in_days")
    now = utcnow()
    made = [keyformat.generate(spec.scope.value, pepper) for spec in specs]
    rows = [dict(id=new_id(), org_id=org_id, scope=spec.scope, project_id=spec.project_id,
                 name=spec.name, prefix=key.prefix, secret_hash=key.secret_hash,
                 created_by=spec.created_by, created_at=now,
                 expires_at=now + timedelta(days=spec.lifetime_days))
            for spec, key in zip(specs, made, strict=True)]
    stored = apikeys.insert_keys(session, rows)
    audit_many(session, actor, "api_key.created", [(org_id, f"key:{k.prefix}") for k in made],
               [dict(scope=spec.scope.value, project_id=spec.project_id,
                     expires_at=(now + timedelta(days=spec.lifetime_days)).isoformat())
                for spec in specs])
    ids = [str(row["id"]) for row in rows]
    if webhooks.anyone_wants(session, org_id, events.API_KEY_CREATED):
        for row in rows:
            key_created(session, stored[str(row["id"])])
    return [apikeys.CreatedKey(row=stored[key_id], secret=key.secret)
            for key_id, key in zip(ids, made, strict=True)]


def create_key(session: Session, org_id: str, spec: KeySpec, *, pepper: bytes,
               actor: str) -> apikeys.CreatedKey:
    (created,) = create_keys(session, org_id, [spec], pepper=pepper, actor=actor)
    return created


class LastAdminKey(Conflict):
    slug = "last-admin-key"
    title = "This would lock the organization out of the API"


def refuse_lockout(session: Session, org_id: str, deleting: Sequence[str], *,
                   idle: timedelta, allowed: bool) -> None:
    """Refuse to delete the org's last admin-capable keys (409), unless another stays, an
    admin is signed in to the console (who can mint a new one), or the caller says so
    (`allowed`): without either, nobody could administer the org through the API again."""
    now = utcnow()
    capable = apikeys.admin_capable_keys(session, org_id, now)
    if allowed or not capable & set(deleting) or capable - set(deleting):
        return
    if console_auth.live_admin_session(session, org_id, now, idle):
        return
    raise LastAdminKey("these are the organization's last keys that can administer it and no "
                       "admin is signed in to the console; repeat with allow_lockout=true to "
                       "delete them anyway", field="allow_lockout")


def key_created(session: Session, key: ApiKey) -> None:
    webhooks.emit(session, key.org_id, events.API_KEY_CREATED, f"api_key:{key.id}:created",
                  apikeys.key_data(key))


def key_revoked(session: Session, key: ApiKey, reason: str) -> None:
    """`api_key.revoked`: the key stopped working (`deleted`, `leaked`, `unused`, ...)."""
    apikeys.emit_revoked(session, key, reason)


MAX_ROLL_OVERLAP = timedelta(days=7)


@dataclass(frozen=True)
class RolledKey:
    old: ApiKey
    new: apikeys.CreatedKey


def roll_key(session: Session, org_id: str, key_id: str, *, overlap: timedelta, pepper: bytes,
             actor: str) -> RolledKey:
    """A new key like the old one (name, scope, project, creator, lifetime), its secret shown
    once; the old one keeps working until `overlap` from now (0: stops now), as a deployment
    switching secrets needs. Both stay listed, the new naming the old (`rolled_from`)."""
    if not timedelta(0) <= overlap <= MAX_ROLL_OVERLAP:
        raise InvalidInput("the old secret may keep working 0 to 7 days", field="overlap_seconds")
    org = writable_org(session, org_id)
    old = apikeys.get_key(session, org_id, key_id, lock=True)
    if old is None:
        raise NotFound(f"key {key_id} does not exist in this organization")
    now = utcnow()
    if old.revoked_at is not None or old.expires_at <= now:
        raise Conflict("only a live key can be rolled: create a new one instead")
    if old.project_id is not None:
        project = projects.projects_in(session, org_id, [old.project_id]).get(old.project_id)
        if project is None:
            raise NotFound(f"project {old.project_id} does not exist in this organization")
        active_project(project)
    lifetime = min(max(old.expires_at - old.created_at, timedelta(days=1)),
                   timedelta(days=org.max_key_lifetime_days))
    made = keyformat.generate(old.scope.value, pepper)
    row = dict(id=new_id(), org_id=org_id, scope=old.scope, project_id=old.project_id,
               name=old.name, prefix=made.prefix, secret_hash=made.secret_hash,
               created_by=old.created_by, created_at=now, expires_at=now + lifetime,
               rolled_from=old.id)
    stored = apikeys.insert_keys(session, [row])[str(row["id"])]
    old_expiry = old.expires_at
    old.expires_at = min(old.expires_at, now + overlap)
    audit(session, org_id, actor, "api_key.rolled", f"key:{old.prefix}",
          new_key=f"key:{made.prefix}", old_expires_at=old.expires_at.isoformat(),
          was_expiring_at=old_expiry.isoformat())
    webhooks.emit(session, org_id, events.API_KEY_ROLLED, f"api_key:{old.id}:rolled",
                  {**apikeys.key_data(old), "new_key_id": stored.id, "new_prefix": stored.prefix})
    return RolledKey(old, apikeys.CreatedKey(row=stored, secret=made.secret))
