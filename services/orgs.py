"""Creating an org (its admin member fixed from then on, the admin's first key) and its card.

One transaction: the org row names its admin at insert (`admin_member_id` never changes after),
the admin member joins it, and the first team key is made by the same key service every other
key goes through, so it is hashed, audited and bounded by the org's maximum lifetime alike.
Who may call it, and how often, is the caller's decision (`LIFECYCLE_ORG_SIGNUP`). The name of
an org deleted recently is held (`LIFECYCLE_ORG_NAME_QUARANTINE_DAYS`), so a newcomer cannot
pass for it. `open_org` is the same creation without the key, for `lifecycle seed`, which
makes an org's keys itself (as many as asked, or none) through the same key service.

The card on file is set here too, for the API's payment-method route and the seed alike, and
the org's key policy (how long keys may live, after how many unused days they are revoked),
for the API's key-policy route and the console's settings page alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core import key_policy
from core.expiry_windows import card_expired
from core.name_hash import name_hash
from core.problems import InvalidInput, NameQuarantined
from services.guards import writable_org
from services.keys import KeySpec, create_key
from services.names import check_email, check_name
from store import members, orgs
from store import teardown as teardown_store
from store.apikeys import CreatedKey
from store.audit import audit
from store.base import new_id, utcnow
from store.models import Member, Organization, PaymentMethod, Role

FIRST_KEY_DAYS = 90


@dataclass(frozen=True)
class CreatedOrg:
    org: Organization
    admin: Member
    key: CreatedKey  # its secret is shown to the caller once


def check_quarantine(session: Session, name: str, quarantine_days: int, now: datetime) -> None:
    """Refuse the name of an org deleted less than `quarantine_days` ago (by its hash)."""
    deleted_at = teardown_store.last_deleted_with_name(session, name_hash(name))
    if deleted_at is None or quarantine_days <= 0:
        return
    free_at = deleted_at + timedelta(days=quarantine_days)
    if now < free_at:
        raise NameQuarantined(
            f"an organization of this name was deleted less than {quarantine_days} days ago; "
            f"the name is free again from {free_at.date().isoformat()}: choose another one",
            field="name", available_at=free_at.isoformat())


def open_org(session: Session, *, name: str, admin_email: str, admin_name: str,
             timezone: str, actor: str, name_quarantine_days: int = 0
             ) -> tuple[Organization, Member]:
    """A new active org with its admin member, no key yet; the name of an org deleted within
    `name_quarantine_days` is refused."""
    check_name(name)
    email = check_email(admin_email, "admin_email")
    if admin_name:
        check_name(admin_name, "admin_name")
    now = utcnow()
    check_quarantine(session, name, name_quarantine_days, now)
    org_id, admin_id = new_id(), new_id()
    org = Organization(id=org_id, name=name, contact_email=email, timezone=timezone,
                       admin_member_id=admin_id, created_at=now)
    session.add(org)
    session.flush()
    admin = members.add_member(session, org_id=org_id, email=email, name=admin_name,
                               role=Role.ADMIN, now=now, member_id=admin_id,
                               timezone=timezone)  # the admin reads mail in the org's zone
    audit(session, org_id, actor, "org.created", f"org:{org_id}", admin_member_id=admin_id)
    return org, admin


def create_org(session: Session, *, name: str, admin_email: str, admin_name: str,
               timezone: str, key_name: str, pepper: bytes, actor: str,
               name_quarantine_days: int) -> CreatedOrg:
    """A new active org with its admin and the admin's first team key; the name of an org
    deleted within `name_quarantine_days` is refused."""
    check_name(key_name, "key_name")
    org, admin = open_org(session, name=name, admin_email=admin_email, admin_name=admin_name,
                          timezone=timezone, actor=actor,
                          name_quarantine_days=name_quarantine_days)
    key = create_key(session, org.id, KeySpec(name=key_name, lifetime_days=min(
        FIRST_KEY_DAYS, org.max_key_lifetime_days or FIRST_KEY_DAYS), created_by=admin.id),
        pepper=pepper, actor=actor)
    return CreatedOrg(org=org, admin=admin, key=key)


def set_payment_method(session: Session, org_id: str, card: orgs.CardFacts, *,
                       actor: str) -> PaymentMethod:
    """Replace the org's card on file; an expired card is refused before anything is written."""
    writable_org(session, org_id)
    if card_expired(card.exp_year, card.exp_month, utcnow()):
        raise InvalidInput("the card has expired", field="exp_year")
    row = orgs.put_payment_method(session, org_id, card)
    audit(session, org_id, actor, "payment_method.replaced", f"org:{org_id}",
          brand=row.brand, last4=row.last4)
    return row


MAX_KEY_LIFETIME_DAYS = 3650


def set_key_policy(session: Session, org_id: str, *, max_key_lifetime_days: int,
                   revoke_unused_keys_after_days: int | None, actor: str) -> Organization:
    """Replace the org's key policy: the longest lifetime of a new or extended key, and the
    number of unused days after which the sweep revokes a key (None: never). Checked before
    anything is written; audited with what changed."""
    if not 1 <= max_key_lifetime_days <= MAX_KEY_LIFETIME_DAYS:
        raise InvalidInput(f"keys may live 1 to {MAX_KEY_LIFETIME_DAYS} days",
                           field="max_key_lifetime_days")
    refused = key_policy.check_days(revoke_unused_keys_after_days)
    if refused is not None:
        raise InvalidInput(refused, field="revoke_unused_keys_after_days")
    org = writable_org(session, org_id)
    wanted = {"max_key_lifetime_days": max_key_lifetime_days,
              "revoke_unused_keys_after_days": revoke_unused_keys_after_days}
    changed = {field: {"from": getattr(org, field), "to": value}
               for field, value in wanted.items() if getattr(org, field) != value}
    for field, value in wanted.items():
        setattr(org, field, value)
    if changed:
        audit(session, org_id, actor, "org.key_policy_updated", f"org:{org_id}", **changed)
    return org
