"""An org's essential contacts: the addresses beside the admin that hear about its teardown.

Org-owned (an address is personal data): the teardown removes them with the members, and the
verifier counts them. No account is needed to be a contact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, created_column, id_column
from store.ownership import org_owned

CONTACT_KINDS = ("technical", "billing", "security")
# The kinds that receive the teardown's notices, beside the admin.
NOTIFIED_KINDS = ("technical", "security")


@org_owned("org_id")
class OrgContact(Base):
    __tablename__ = "org_contacts"
    __table_args__ = (
        CheckConstraint("kind IN ('technical', 'billing', 'security')", name="kind_known"),
        UniqueConstraint("org_id", "kind", "email", name="uq_org_contacts_org_kind_email"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(320))
    added_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_column()
