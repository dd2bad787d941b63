"""Helpers for member tests: the token an invitation mail carries, a removal written as the
API writes it, and the rows a member holds."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.members import request_removal
from store.console_models import ConsoleSession
from store.models import ApiKey, KeyScope, Member, OutboxMessage, Quota
from store.permission_models import ServicePermission

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
ACTOR = "key:olt_remover"


def mailed_token(sessions: sessionmaker[Session], invitation_id: str) -> str:
    """The token in the invitation's latest mail (as its recipient would read it)."""
    with sessions() as session:
        body = session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.idempotency_key.startswith(f"invitation:{invitation_id}:"))
            .order_by(OutboxMessage.id.desc()).limit(1)).one()
    found = TOKEN.search(body)
    assert found is not None, "the invitation mail carries no link"
    return found.group(1)


def remove(sessions: sessionmaker[Session], org_id: str, member_id: str,
           actor: str = ACTOR) -> str:
    """A removal request row, written by the service the API calls; its id."""
    with sessions.begin() as session:
        return request_removal(session, org_id, member_id, actor=actor).request.id


def member_rows(sessions: sessionmaker[Session], member_id: str) -> dict[str, int]:
    """What still stands of the member: the row, unrevoked team keys, quotas, sessions,
    service permissions."""
    with sessions() as session:
        def count(query: object) -> int:
            return int(session.execute(query).scalar_one())  # type: ignore[call-overload]
        return {
            "members": count(select(func.count()).select_from(Member)
                             .where(Member.id == member_id)),
            "live_team_keys": count(select(func.count()).select_from(ApiKey).where(
                ApiKey.created_by == member_id, ApiKey.scope == KeyScope.TEAM,
                ApiKey.revoked_at.is_(None))),
            "quotas": count(select(func.count()).select_from(Quota)
                            .where(Quota.member_id == member_id)),
            "console_sessions": count(select(func.count()).select_from(ConsoleSession)
                                      .where(ConsoleSession.member_id == member_id)),
            "service_permissions": count(select(func.count()).select_from(ServicePermission)
                                         .where(ServicePermission.member_id == member_id)),
        }
