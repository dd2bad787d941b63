"""An org's essential contacts: technical, billing and security addresses beside the admin.

Why: the admin is one person; a company wants its security team and its on-call address to
hear that the org is about to be deleted (the teardown's notices go to the technical and
security contacts too). Contacts need no account. Every change locks the org, refuses a frozen
or deleting one and is audited; the audit names the contact by id, never by address.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.problems import Conflict, InvalidInput, NotFound
from services.guards import org_or_404, writable_org
from services.names import check_email
from store import contacts as repo
from store.audit import audit
from store.contact_models import CONTACT_KINDS, OrgContact

MAX_CONTACTS = 20


class ContactExists(Conflict):
    slug = "contact-exists"
    title = "This contact is already listed"


def list_contacts(session: Session, org_id: str) -> list[OrgContact]:
    org_or_404(session, org_id)
    return repo.list_contacts(session, org_id)


def add_contact(session: Session, org_id: str, kind: str, email: str, *,
                actor: str) -> OrgContact:
    writable_org(session, org_id)
    if kind not in CONTACT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CONTACT_KINDS)}", field="kind")
    email = check_email(email)
    if repo.find_contact(session, org_id, kind, email) is not None:
        raise ContactExists(f"this address is already the org's {kind} contact")
    if len(repo.list_contacts(session, org_id)) >= MAX_CONTACTS:
        raise Conflict(f"an organization has at most {MAX_CONTACTS} contacts")
    row = repo.add_contact(session, org_id=org_id, kind=kind, email=email, added_by=actor)
    audit(session, org_id, actor, "contact.added", f"contact:{row.id}", kind=kind)
    return row


def remove_contact(session: Session, org_id: str, contact_id: str, *, actor: str) -> None:
    writable_org(session, org_id)
    row = repo.remove_contact(session, org_id, contact_id)
    if row is None:
        raise NotFound(f"contact {contact_id} does not exist in this organization")
    audit(session, org_id, actor, "contact.removed", f"contact:{row.id}", kind=row.kind)
