"""The members' own tables: invitations, and the removal requests an offboarding acts on.

An invitation is org-owned (it holds an address, personal data the teardown must remove); its
token is kept only as an HMAC under the server pepper, so a database dump accepts nobody. A
removal request is retained after the org is gone, like a project deletion request: it holds
ids and actors only, and it is the authority the offboarding workflow acts on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UTCDateTime, created_column, id_column
from store.ownership import org_owned, retained

# Removal request states: written `pending` by the API after its checks, `running` once one
# workflow run claimed it, then `completed` or `failed`.
REMOVAL_PENDING, REMOVAL_RUNNING = "pending", "running"
REMOVAL_COMPLETED, REMOVAL_FAILED = "completed", "failed"
LIVE_REMOVAL_REQUESTS = "status IN ('pending', 'running')"


@org_owned("org_id")
class MemberInvitation(Base):
    """An invitation by mail: open until accepted, revoked or past `expires_at`.

    Re-sending replaces the token (the previous mail's link stops working) and the expiry.
    `accepted_at` is set by the one request that consumes it.
    """

    __tablename__ = "member_invitations"
    __table_args__ = (CheckConstraint("role IN ('admin', 'member')", name="role_known"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    invited_by: Mapped[str] = mapped_column(String(100))
    sends: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = created_column()
    sent_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    member_id: Mapped[str | None] = mapped_column(String(32))  # who accepted it


@retained("the request a member offboarding acted on, and its outcome: ids and actors only")
class MemberRemovalRequest(Base):
    """Written by the API after its checks; the offboarding workflow acts on nothing else.

    The workflow claims the row once (pending -> running) and takes its actor from it for
    every audit event, so a workflow started by anyone else with made-up input does nothing.
    """

    __tablename__ = "member_removal_requests"
    __table_args__ = (Index("uq_member_removal_requests_live", "member_id", unique=True,
                            postgresql_where=text(LIVE_REMOVAL_REQUESTS),
                            sqlite_where=text(LIVE_REMOVAL_REQUESTS)),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    member_id: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=REMOVAL_PENDING)
    workflow_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = created_column()
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
