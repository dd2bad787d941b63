"""The web console's own tables: sign-in links, sessions, and the sign-in rate limiter.

Links and sessions belong to one member of one org, so they are org-owned: the teardown
removes them with the members and its verifier counts them. `member_id` is a plain id, not a
foreign key, so removing a member never waits on their sessions; the session check refuses a
session whose member row is gone, at once, and deletes it. Secrets are never stored: a link
token and a session id are kept only as an HMAC under the server pepper, so a database dump
opens no session.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigIntPK, UTCDateTime, created_column, id_column
from store.ownership import org_owned


@org_owned("org_id")
class SignInLink(Base):
    """A mailed single-use link: `used_at` is set by the one request that consumes it."""

    __tablename__ = "console_sign_in_links"

    id: Mapped[str] = id_column()
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@org_owned("org_id")
class ConsoleSession(Base):
    """A signed-in browser: idle and absolute expiry, checked on every request."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = id_column()
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SignInAttempt(Base):
    """One sign-in request, counted per bucket (a keyed hash of the address or the client).

    In the database, so every API replica counts the same attempts. Holds no address: the
    bucket is an HMAC, and rows older than the window are deleted as new ones arrive.
    """

    __tablename__ = "console_sign_in_attempts"
    __table_args__ = (Index("ix_console_sign_in_attempts_bucket_at", "bucket", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
