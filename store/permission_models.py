"""Service permissions: whether a member may use a compute service, set by the org admin.

The console's "tenant management permissions": one switch per (member, service). A member with
no row for a service may use it (the default is on), so a new member needs no rows and turning
a service off is one row. `member_id` is a plain id, not a foreign key (as for the console's
sessions), so removing a member never waits on their switches: a removed member's keys no
longer authenticate, so a row left behind decides nothing, and the teardown deletes the org's
rows with its members.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigIntPK, created_column
from store.ownership import org_owned


@org_owned("org_id")
class ServicePermission(Base):
    __tablename__ = "service_permissions"
    __table_args__ = (UniqueConstraint("member_id", "service",
                                       name="uq_service_permissions_member_service"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(32))
    # a `store.models.Service` value, checked by the callers against the enum
    service: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = created_column()
