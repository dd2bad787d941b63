"""Org and payment-method queries, and the write guard every mutating route goes through.

"Frozen means frozen" is enforced here, not only at authentication: a key checked a moment ago
may belong to an org that a teardown froze since. `lock_active_org` takes the org row with
`SELECT ... FOR UPDATE` (PostgreSQL; SQLite serialises writers anyway) and checks its status in
the same transaction as the write, and the teardown's freeze takes the same lock, so a write
either commits before the freeze or is refused after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.orm import Session

from core.expiry_windows import card_expired
from store.base import new_id, rowcount, utcnow
from store.models import Member, Organization, OrgStatus, PaymentMethod, PaymentStatus
from store.paging import keyset_page

EDITABLE = ("name", "description", "contact_email", "website", "timezone")


class OrgMissing(Exception):
    """No org with that id (or it was deleted)."""


class OrgNotActive(Exception):
    def __init__(self, status: OrgStatus) -> None:
        super().__init__(f"the organization is {status.value}: writes are refused")
        self.status = status


def get_org(session: Session, org_id: str) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise OrgMissing(org_id)
    return org


def get_orgs(session: Session, org_ids: Sequence[str]) -> list[Organization]:
    """The orgs of these ids that exist, in id order (missing ones are left out)."""
    if not org_ids:
        return []
    return list(session.scalars(select(Organization).where(Organization.id.in_(org_ids))
                                .order_by(Organization.id)))


def org_status(session: Session, org_id: str) -> OrgStatus:
    """The org's status alone, without loading the row: the key check's one question."""
    status = session.execute(select(Organization.status).where(Organization.id == org_id)
                             ).scalar_one_or_none()
    if status is None:
        raise OrgMissing(org_id)
    return status


def lock_org(session: Session, org_id: str) -> Organization:
    """The org row, locked until the transaction ends (fresh from the database)."""
    org = session.execute(select(Organization).where(Organization.id == org_id)
                          .with_for_update().execution_options(populate_existing=True)
                          ).scalar_one_or_none()
    if org is None:
        raise OrgMissing(org_id)
    return org


def lock_active_org(session: Session, org_id: str) -> Organization:
    """Lock the org and refuse unless it is active: call before every write to an org."""
    org = lock_org(session, org_id)
    if org.status is not OrgStatus.ACTIVE:
        raise OrgNotActive(org.status)
    return org


def admin_email(session: Session, org_id: str) -> str | None:
    """The admin's address, read where a notice is queued (never carried through a workflow);
    None once the org or its admin row is gone."""
    return session.scalars(select(Member.email).join(
        Organization, Organization.admin_member_id == Member.id)
        .where(Organization.id == org_id)).first()


def update_org(org: Organization, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply the editable fields present in `changes`; returns what actually changed."""
    changed: dict[str, Any] = {}
    for field in EDITABLE:
        if field in changes and changes[field] != getattr(org, field):
            setattr(org, field, changes[field])
            changed[field] = changes[field]
    return changed


@dataclass(frozen=True, slots=True)
class OrgView:
    """An org's basic information, its admin's account and its card's health: what the org's
    page shows, as plain values.

    Not loaded entities: the read every console page starts with, and loading three entities
    cost more CPU than the query.
    """

    id: str
    name: str
    description: str
    contact_email: str
    website: str
    timezone: str
    status: OrgStatus
    max_key_lifetime_days: int
    revoke_unused_keys_after_days: int | None
    created_at: datetime
    admin_id: str | None
    admin_email: str | None
    admin_name: str | None
    card_status: PaymentStatus | None  # None: no card on file
    card_exp_year: int | None
    card_exp_month: int | None

    def payment_attention(self, now: datetime) -> bool:
        return self.card_status is None or card_attention(
            self.card_status, self.card_exp_year or 0, self.card_exp_month or 1, now)


def org_view(session: Session, org_id: str) -> OrgView | None:
    """`OrgView` in one statement (the org, its admin and card joined by key), so one round
    trip instead of three."""
    found = session.execute(_ORG_VIEW, {"view_org": org_id}).one_or_none()
    return None if found is None else OrgView(*found)


def _view_statement() -> Select[Any]:
    org, admin, card = Organization.__table__, Member.__table__, PaymentMethod.__table__
    columns = {"id": org.c.id, "name": org.c.name, "description": org.c.description,
               "contact_email": org.c.contact_email, "website": org.c.website,
               "timezone": org.c.timezone, "status": org.c.status,
               "max_key_lifetime_days": org.c.max_key_lifetime_days,
               "revoke_unused_keys_after_days": org.c.revoke_unused_keys_after_days,
               "created_at": org.c.created_at, "admin_id": admin.c.id,
               "admin_email": admin.c.email, "admin_name": admin.c.name,
               "card_status": card.c.status, "card_exp_year": card.c.exp_year,
               "card_exp_month": card.c.exp_month}
    assert tuple(columns) == OrgView.__slots__
    return (select(*columns.values()).select_from(org)
            .outerjoin(admin, admin.c.id == org.c.admin_member_id)
            .outerjoin(card, card.c.org_id == org.c.id)
            .where(org.c.id == bindparam("view_org")))


# Built once, on a bound parameter, of Core columns (rows, not entities): building it per
# request cost about as much as running it.
_ORG_VIEW = _view_statement()


def payment_method(session: Session, org_id: str) -> PaymentMethod | None:
    return session.execute(select(PaymentMethod).where(PaymentMethod.org_id == org_id)
                           ).scalar_one_or_none()


@dataclass(frozen=True)
class CardFacts:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def put_payment_method(session: Session, org_id: str, card: CardFacts) -> PaymentMethod:
    """Replace the card on file (one per org); a new card starts out valid."""
    now = utcnow()
    row = payment_method(session, org_id)
    if row is None:
        row = PaymentMethod(id=new_id(), org_id=org_id, created_at=now)
        session.add(row)
    row.provider_token = card.token
    row.brand = card.brand
    row.last4 = card.last4
    row.exp_month = card.exp_month
    row.exp_year = card.exp_year
    row.status = PaymentStatus.VALID
    row.updated_at = now
    session.flush()
    return row


def delete_payment_method(session: Session, org_id: str) -> int:
    """Remove the org's card on file; how many rows went (0 or 1)."""
    return rowcount(session.execute(delete(PaymentMethod).where(PaymentMethod.org_id == org_id)))


def payment_attention(card: PaymentMethod | None, now: datetime) -> bool:
    """The console's "check your payment settings": no usable card on file."""
    return card is None or card_attention(card.status, card.exp_year, card.exp_month, now)


def card_attention(status: PaymentStatus, exp_year: int, exp_month: int, now: datetime) -> bool:
    """A card on file that is not usable: the provider says so, or it has expired."""
    return status is PaymentStatus.UNAVAILABLE or card_expired(exp_year, exp_month, now)


def list_orgs(session: Session, *, name_contains: str = "", status: OrgStatus | None = None,
              limit: int, after: str = "") -> tuple[list[Organization], str | None]:
    """The operators' directory: a page of orgs in id order, by name fragment and status."""
    query = select(Organization)
    if name_contains:
        escaped = (name_contains.lower().replace("\\", "\\\\").replace("%", "\\%")
                   .replace("_", "\\_"))
        query = query.where(func.lower(Organization.name).like(f"%{escaped}%", escape="\\"))
    if status is not None:
        query = query.where(Organization.status == status)
    return keyset_page(session, query, Organization.id, limit=limit, after=after)


def member_counts(session: Session, org_ids: list[str]) -> dict[str, int]:
    """Members per org, for a page of the directory in one query."""
    rows = session.execute(select(Member.org_id, func.count()).where(
        Member.org_id.in_(org_ids)).group_by(Member.org_id)).all()
    return {org_id: int(n) for org_id, n in rows}
