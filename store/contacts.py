"""Queries of an org's essential contacts (see `store.contact_models`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.base import rowcount
from store.contact_models import OrgContact


def list_contacts(session: Session, org_id: str) -> list[OrgContact]:
    return list(session.scalars(select(OrgContact).where(OrgContact.org_id == org_id)
                                .order_by(OrgContact.kind, OrgContact.email)))


def find_contact(session: Session, org_id: str, kind: str, email: str) -> OrgContact | None:
    return session.scalars(select(OrgContact).where(
        OrgContact.org_id == org_id, OrgContact.kind == kind,
        OrgContact.email == email)).one_or_none()


def add_contact(session: Session, *, org_id: str, kind: str, email: str,
                added_by: str) -> OrgContact:
    row = OrgContact(org_id=org_id, kind=kind, email=email, added_by=added_by)
    session.add(row)
    session.flush()
    return row


def remove_contact(session: Session, org_id: str, contact_id: str) -> OrgContact | None:
    """The removed contact, or None when the org has no contact of that id."""
    row = session.scalars(select(OrgContact).where(
        OrgContact.org_id == org_id, OrgContact.id == contact_id)).one_or_none()
    if row is not None:
        rowcount(session.execute(delete(OrgContact).where(OrgContact.id == row.id)))
    return row


def addresses(session: Session, org_id: str, kinds: Sequence[str]) -> list[str]:
    """The distinct addresses of the org's contacts of `kinds`, in a stable order."""
    return sorted(set(session.scalars(select(OrgContact.email).where(
        OrgContact.org_id == org_id, OrgContact.kind.in_(kinds)))))
