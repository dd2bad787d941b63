"""Creating an org: the org, its admin member (fixed from then on) and the admin's first key.

One transaction: the org row names its admin at insert (`admin_member_id` never changes after),
the admin member joins it, and the first team key is made by the same key service every other
key goes through, so it is hashed, audited and bounded by the org's maximum lifetime alike.
Who may call it, and how often, is the caller's decision (`LIFECYCLE_ORG_SIGNUP`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.keys import KeySpec, create_key
from services.names import check_email, check_name
from store import members
from store.apikeys import CreatedKey
from store.audit import audit
from store.base import new_id, utcnow
from store.models import Member, Organization, Role

FIRST_KEY_DAYS = 90


@dataclass(frozen=True)
class CreatedOrg:
    org: Organization
    admin: Member
    key: CreatedKey  # its secret is shown to the caller once


def create_org(session: Session, *, name: str, admin_email: str, admin_name: str,
               timezone: str, key_name: str, pepper: bytes, actor: str) -> CreatedOrg:
    """A new active org with its admin and the admin's first team key."""
    check_name(name)
    check_name(key_name, "key_name")
    email = check_email(admin_email, "admin_email")
    if admin_name:
        check_name(admin_name, "admin_name")
    now = utcnow()
    org_id, admin_id = new_id(), new_id()
    org = Organization(id=org_id, name=name, contact_email=email, timezone=timezone,
                       admin_member_id=admin_id, created_at=now)
    session.add(org)
    session.flush()
    admin = members.add_member(session, org_id=org_id, email=email, name=admin_name,
                               role=Role.ADMIN, now=now, member_id=admin_id)
    audit(session, org_id, actor, "org.created", f"org:{org_id}", admin_member_id=admin_id)
    key = create_key(session, org_id, KeySpec(name=key_name, lifetime_days=min(
        FIRST_KEY_DAYS, org.max_key_lifetime_days or FIRST_KEY_DAYS), created_by=admin_id),
        pepper=pepper, actor=actor)
    return CreatedOrg(org=org, admin=admin, key=key)
