"""Creating API keys: team keys (org scope) and project keys, one or many at once.

The secret is made here and handed back once (`CreatedKey.secret`); only its prefix and keyed
hash are stored. A project key can only be made for an active project of an active org: a
project being deleted takes its keys with it, so a new one would only race the purge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from core import keyformat
from core import webhook_events as events
from core.problems import Conflict, InvalidInput, NotFound
from services.guards import active_project, writable_org
from services.names import check_name
from store import apikeys, console_auth, projects, webhooks
from store.audit import audit_many
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


def key_data(key: ApiKey) -> dict[str, Any]:
    """What a key's events say about it: ids, its public prefix and name, times; no secret."""
    return {"key_id": key.id, "prefix": key.prefix, "name": key.name,
            "scope": key.scope.value, "project_id": key.project_id,
            "created_by": key.created_by, "expires_at": key.expires_at.isoformat()}


def key_created(session: Session, key: ApiKey) -> None:
    webhooks.emit(session, key.org_id, events.API_KEY_CREATED, f"api_key:{key.id}:created",
                  key_data(key))


def key_revoked(session: Session, key: ApiKey, reason: str) -> None:
    """`api_key.revoked`: the key stopped working (`deleted`, `leaked`, `unused`, ...)."""
    webhooks.emit(session, key.org_id, events.API_KEY_REVOKED, f"api_key:{key.id}:revoked",
                  {**key_data(key), "reason": reason})
