"""Store lookups turned into problems, shared by every router.

Routes call these instead of the repository functions directly so a missing org is always the
same 404 and a write to a frozen org always the same 403 `org-frozen` problem.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.auth import OrgFrozen
from api.problems import NotFound
from store import orgs
from store.models import Organization


def org_or_404(session: Session, org_id: str) -> Organization:
    try:
        return orgs.get_org(session, org_id)
    except orgs.OrgMissing:
        raise NotFound(f"organization {org_id} does not exist") from None


def writable_org(session: Session, org_id: str) -> Organization:
    """Lock the org row for this transaction and refuse unless it is active (frozen means
    frozen: no write reaches an org a teardown has frozen)."""
    try:
        return orgs.lock_active_org(session, org_id)
    except orgs.OrgMissing:
        raise NotFound(f"organization {org_id} does not exist") from None
    except orgs.OrgNotActive as exc:
        raise OrgFrozen(str(exc), org_status=exc.status.value) from None
