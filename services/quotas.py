"""Setting compute quotas: one member's limit for one service, or many at once.

The API's "Edit quota", the console's Quotas page and the seed command set limits here, with
the same checks (the org active and locked, every member the org's own, limits in range) and
one audit event per limit set (the same limit again included: each is an admin's decision).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from core.problems import InvalidInput, NotFound
from services.guards import writable_org
from store import quotas as repo
from store.audit import audit_many
from store.models import Quota, Service

MAX_LIMIT = 1_000_000


def set_quotas(session: Session, org_id: str, limits: Sequence[tuple[str, Service, int]],
               *, actor: str) -> dict[tuple[str, Service], int | None]:
    """Set each (member id, service, limit) of an active org; the previous limits."""
    writable_org(session, org_id)
    for _, _, limit in limits:
        if not 0 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"a limit is between 0 and {MAX_LIMIT}", field="limit")
    unknown = {m for m, _, _ in limits} - repo.members_of(session, org_id,
                                                          [m for m, _, _ in limits])
    if unknown:
        raise NotFound(f"member {sorted(unknown)[0]} is not in this organization")
    previous = repo.upsert_quotas(session, org_id, limits)
    audit_many(session, actor, "quota.set", [(org_id, f"member:{m}") for m, _, _ in limits],
               [dict(service=s.value, old_limit=previous[(m, s)], new_limit=limit)
                for m, s, limit in limits])
    return previous


def set_quota(session: Session, org_id: str, member_id: str, service: Service, limit: int,
              *, actor: str) -> Quota:
    set_quotas(session, org_id, [(member_id, service, limit)], actor=actor)
    (row,) = repo.quotas(session, org_id, member_id=member_id, service=service)
    return row
