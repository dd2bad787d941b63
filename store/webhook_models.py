"""Webhook endpoints, the events they are sent, and the log of every delivery attempt.

All three are org-owned: the teardown removes them and its verifier counts them. An event row
is what makes "one event per subject and occurrence" hold: its id is derived from the
occurrence (`store.webhooks.event_id`), so emitting the same occurrence twice, from a retried
transaction or an overlapping sweep, finds the row instead of adding one. An endpoint's
signing secret is kept sealed (`core.secretbox`), never in plain text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigIntPK, UTCDateTime, created_column, id_column
from store.ownership import org_owned

ENABLED = "enabled"
DISABLED = "disabled"


@org_owned("org_id")
class WebhookEndpoint(Base):
    """Where an org wants its events: a URL, the event types (empty: all), the sealed secret.

    During a rotation window the previous secret is kept (sealed) until `previous_until`, and
    deliveries carry a signature under each.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_sealed: Mapped[str] = mapped_column(String(300))
    previous_secret_sealed: Mapped[str | None] = mapped_column(String(300))
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=ENABLED)  # enabled | disabled
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class WebhookEvent(Base):
    """One event of one org: its stable id, type and the exact JSON body every endpoint gets."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_org_id_created_at", "org_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class WebhookAttempt(Base):
    """One delivery attempt of an event to an endpoint: the endpoint's delivery log."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint_id_id", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_column()
