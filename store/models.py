"""The org domain as SQLAlchemy 2.0 models.

Every org-owned table carries a direct `org_id` (indexed, foreign key without cascade) except
`dataset_records`, which reaches its org through its dataset: records are the bulk of the data
and a 32-byte org id on each would cost more than it buys. Foreign keys never cascade, so the
database itself refuses to delete a parent that still has children: a second safety net under
the teardown's verifier.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, BigIntPK, UTCDateTime, created_column, id_column
from store.ownership import org_owned, retained


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """Enums stored as their string values with a CHECK constraint (portable across databases)."""
    return Enum(cls, name=name, native_enum=False, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class OrgStatus(enum.StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    DELETING = "deleting"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    REMOVING = "removing"  # removal requested: their keys and sessions are refused at once


class PaymentStatus(enum.StrEnum):
    VALID = "valid"
    UNAVAILABLE = "unavailable"


class SubscriptionKind(enum.StrEnum):
    JOB_PLAN = "job_plan"
    WORKSPACE_CAPACITY = "workspace_capacity"


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class KeyScope(enum.StrEnum):
    TEAM = "team"
    PROJECT = "project"


class Service(enum.StrEnum):
    CONTAINER_COMPUTE = "container_compute"
    VIRTUAL_COMPUTE = "virtual_compute"


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"  # a deletion was requested: its keys and writes are refused, cancellable
    DELETING = "deleting"  # past the point of no return: the purge is under way


class RequestStatus(enum.StrEnum):
    """Where a request to delete (an org, a project) is; see `ClaimedRequest`."""

    PENDING = "pending"  # written by the API, not yet claimed by a workflow
    RUNNING = "running"  # claimed: exactly one workflow acts on it
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"


ProjectDeletionStatus = RequestStatus  # the project deletion's name for it


class InvoiceStatus(enum.StrEnum):
    PAID = "paid"
    UNPAID = "unpaid"
    VOID = "void"


# Predicates of partial indexes that hold only the rows the business metrics count (see
# `store.business_totals`, whose queries repeat them verbatim so the planner uses the index).
PURGED_BATCHES = "key LIKE 'records:%'"  # one ledger row per purged batch of records
SENT_REMINDER_DIGESTS = "status = 'sent' AND idempotency_key LIKE 'kx:%'"  # reminders.BATCH_PREFIX
# An org or a project has at most one deletion request still to be acted on or being acted on.
LIVE_DELETION_REQUESTS = "status IN ('pending', 'running')"


def _partial_index(name: str, column: str, *, where: str) -> Index:
    return Index(name, column, postgresql_where=text(where), sqlite_where=text(where))


@org_owned("id")
class Organization(Base):
    """An org; `admin_member_id` names the one admin account, fixed at creation."""

    __tablename__ = "organizations"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[OrgStatus] = mapped_column(_enum(OrgStatus, "org_status"),
                                              default=OrgStatus.ACTIVE)
    # No foreign key: members point at their org, so a key back would make a cycle that every
    # insert and delete has to break. The admin is enforced by the update guard below instead.
    admin_member_id: Mapped[str] = mapped_column(String(32))
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_key_lifetime_days: Mapped[int] = mapped_column(Integer, default=365, server_default="365")
    # Keys unused (since their last use, or creation) this many days are revoked by the sweep,
    # with a notice a week before; None: never (core.key_policy).
    revoke_unused_keys_after_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_column()


class AdminImmutableError(Exception):
    """Raised when code tries to change an org's admin account, which never changes."""


@event.listens_for(Organization, "before_update")
def _admin_is_immutable(mapper: Any, connection: Any, target: Organization) -> None:
    from sqlalchemy import inspect

    history = inspect(target).attrs.admin_member_id.history
    if history.deleted and history.deleted[0] is not None:
        raise AdminImmutableError("the admin account of an organization cannot be changed")


@org_owned("org_id")
class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("org_id", "email", name="uq_members_org_email"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "member_role"), default=Role.MEMBER)
    # Leaves `active` once, when the member's removal is requested; the offboarding deletes
    # the row at its end. Checked by the key check: a team key acts with its creator's role,
    # so a member being removed takes every team key they made out of service at once.
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus, "member_status"),
                                                 default=MemberStatus.ACTIVE,
                                                 server_default=MemberStatus.ACTIVE.value)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class PaymentMethod(Base):
    """A card on file as the provider's token plus display facts; never the card number."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_range"),
        CheckConstraint("length(last4) = 4", name="last4_len"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True, unique=True)
    provider_token: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(40))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus, "payment_status"),
                                                  default=PaymentStatus.VALID)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("org_id", "create_key",
                                       name="uq_subscriptions_org_create_key"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[SubscriptionKind] = mapped_column(_enum(SubscriptionKind, "subscription_kind"))
    plan: Mapped[str] = mapped_column(String(100))
    status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus, "subscription_status"), default=SubscriptionStatus.ACTIVE)
    # The idempotency key of the call that cancelled it: a retried cancel with the same key is
    # a no-op, a different key on an already cancelled plan is reported, never applied twice.
    cancel_key: Mapped[str | None] = mapped_column(String(200))
    # The idempotency key of the call that created it: the same key again returns this row
    # instead of subscribing twice (unique per org; NULL for rows made before keys existed).
    create_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@org_owned("org_id")
class Project(Base):
    """A project; `status` leaves `active` only while a deletion of the project runs."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_projects_org_name"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ProjectStatus] = mapped_column(_enum(ProjectStatus, "project_status"),
                                                  default=ProjectStatus.ACTIVE,
                                                  server_default=ProjectStatus.ACTIVE.value)
    created_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class Dataset(Base):
    """A dataset; `record_count` is kept up to date by every write of its records.

    Why a stored count: a project page shows its record total, and a freeze snapshots it,
    without counting a million rows each time (the records carry no org id to index on).
    """

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_datasets_project_name"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    record_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = created_column()


@org_owned("dataset_id", "org_id")
class DatasetRecord(Base):
    """The bulk rows a purge deletes; `(dataset_id, id)` is the keyset the purge walks."""

    __tablename__ = "dataset_records"
    __table_args__ = (Index("ix_dataset_records_dataset_id_id", "dataset_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    payload: Mapped[bytes] = mapped_column(LargeBinary)


@org_owned("org_id")
class ApiKey(Base):
    """An API key: only a display prefix and an HMAC of the secret are ever stored."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_expires_at_id", "expires_at", "id"),
        CheckConstraint("(scope = 'team' AND project_id IS NULL) OR "
                        "(scope = 'project' AND project_id IS NOT NULL)", name="scope_project"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    scope: Mapped[KeyScope] = mapped_column(_enum(KeyScope, "key_scope"))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("members.id"), index=True)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expired_marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A key made by rolling another: the old key's id (it keeps working until its expiry).
    rolled_from: Mapped[str | None] = mapped_column(String(32))


@org_owned("org_id")
class Quota(Base):
    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("member_id", "service", name="uq_quotas_member_service"),
                      CheckConstraint('"limit" >= 0 AND used >= 0', name="non_negative"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    service: Mapped[Service] = mapped_column(_enum(Service, "compute_service"))
    limit: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)


@org_owned("org_id")
class UsageRecord(Base):
    """Metered usage; `project_id` and `member_id` are plain ids so history outlives them.

    `invoice_id` names the invoice that billed it: usage without one is outstanding, and an
    org with outstanding usage cannot be torn down before it is billed.
    """

    __tablename__ = "usage_records"
    # The usage page reads one org's records of one month (by time); the teardown by org.
    __table_args__ = (Index("ix_usage_records_org_id_recorded_at", "org_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    project_id: Mapped[str | None] = mapped_column(String(32))
    member_id: Mapped[str | None] = mapped_column(String(32))
    service: Mapped[Service] = mapped_column(_enum(Service, "usage_service"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[InvoiceStatus] = mapped_column(_enum(InvoiceStatus, "invoice_status"))
    issued_at: Mapped[datetime] = created_column()


@retained("the audit trail outlives the org; actors and targets are ids, never names or emails")
class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The audit log page reads one org's events newest first, a page after a cursor id.
    __table_args__ = (Index("ix_audit_events_org_id_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str | None] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    # Indexed for the business metrics, which count a few actions (`store.business_totals`).
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = created_column()


@retained("the deletion certificate is the proof of a teardown: org id, name hash, counts")
class DeletionCertificate(Base):
    __tablename__ = "deletion_certificates"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(String(32), unique=True)
    org_name_hash: Mapped[str] = mapped_column(String(64), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    workflow_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    verification: Mapped[dict[str, int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_column()
    # The signed document as issued (core.signing); None when no signing key was configured.
    signed: Mapped[str | None] = mapped_column(Text)


class ClaimedRequest:
    """The columns of a request row that a destructive workflow acts on, and nothing else.

    Why the database and not the workflow input is the authority: anyone who can reach
    Temporal could start a workflow with made-up input, but only the API writes these rows
    (admin key checked, org locked, confirmation and blockers checked, in one transaction).
    The workflow claims its row once (pending -> running, naming its run), every destructive
    activity checks that the run holds it, and audit events take their actor from it. The
    grace window and its minimum come from the row too. `store.requests` holds the queries
    and `activities.requests` the claim, shared by every kind of request.
    """

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    grace_seconds: Mapped[int] = mapped_column(Integer)
    # The shortest the window may become (`expedite` is refused before it has passed).
    min_grace_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[RequestStatus] = mapped_column(
        _enum(RequestStatus, "request_status"), default=RequestStatus.PENDING)
    workflow_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = created_column()
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@retained("the request a project deletion acted on, and its outcome: ids and actors only")
class ProjectDeletionRequest(ClaimedRequest, Base):
    """A project's deletion request; at most one per project is live."""

    __tablename__ = "project_deletion_requests"
    __table_args__ = (Index("uq_project_deletion_requests_live", "project_id", unique=True,
                            postgresql_where=text(LIVE_DELETION_REQUESTS),
                            sqlite_where=text(LIVE_DELETION_REQUESTS)),)

    project_id: Mapped[str] = mapped_column(String(32))


@retained("the request a teardown acted on, and its outcome: ids and actors only")
class TeardownRequest(ClaimedRequest, Base):
    """An org's teardown request; at most one per org is live."""

    __tablename__ = "teardown_requests"
    __table_args__ = (Index("uq_teardown_requests_live", "org_id", unique=True,
                            postgresql_where=text(LIVE_DELETION_REQUESTS),
                            sqlite_where=text(LIVE_DELETION_REQUESTS)),)


@retained("the proof of a project deletion: ids, a name hash, per-step times and counts")
class ProjectDeletionCertificate(Base):
    __tablename__ = "project_deletion_certificates"

    id: Mapped[str] = id_column()
    request_id: Mapped[str] = mapped_column(String(32), unique=True)
    org_id: Mapped[str] = mapped_column(String(32), index=True)
    project_id: Mapped[str] = mapped_column(String(32))
    project_name_hash: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(100))
    workflow_id: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    verification: Mapped[dict[str, int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_column()
    # The signed document as issued (core.signing); None when no signing key was configured.
    signed: Mapped[str | None] = mapped_column(Text)


@retained("messages must still be delivered after the org is gone (the completion notice)")
class OutboxMessage(Base):
    """A message to deliver; `idempotency_key` makes enqueueing it twice a no-op."""

    __tablename__ = "outbox"
    __table_args__ = (_partial_index("ix_outbox_reminders_sent", "channel",
                                     where=SENT_REMINDER_DIGESTS),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    org_id: Mapped[str | None] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending",  # pending|sent|failed
                                        index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Why the last attempt did not go through (a failed row's reason); ids and codes only.
    last_error: Mapped[str | None] = mapped_column(String(500))
    # A webhook waiting out its retry backoff: the sweep's backstop leaves it alone until then.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@retained("teardown bookkeeping: ids and counts only, so a retried step reports its first count")
class TeardownLedger(Base):
    """One row per completed unit of teardown work, written in the same transaction as the work.

    Why: an activity can be killed after its transaction commits and before Temporal hears the
    result. On retry the work is already done and would count zero; the ledger row returns the
    count of the attempt that did it, so certificates match what existed at freeze time.
    """

    __tablename__ = "teardown_ledger"
    __table_args__ = (UniqueConstraint("org_id", "key", name="uq_teardown_ledger_org_key"),
                      _partial_index("ix_teardown_ledger_purged", "count",
                                     where=PURGED_BATCHES))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(300))
    count: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class KeyTombstone(Base):
    """What is left of a deleted key: enough to answer "who deleted which key, when"."""

    __tablename__ = "key_tombstones"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[KeyScope] = mapped_column(_enum(KeyScope, "tombstone_scope"))
    project_id: Mapped[str | None] = mapped_column(String(32))
    deleted_by: Mapped[str] = mapped_column(String(100))
    deleted_at: Mapped[datetime] = created_column()


@org_owned("org_id")
class Reminder(Base):
    """The reminder ledger: one row per (subject, window, due date) decides "exactly once".

    `subject_kind` is `api_key` or `card`; `due_at` is the key's expiry (or the card's end of
    validity), so extending a key gives it fresh rows and re-arms every window.
    """

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id", "window", "due_at",
                                       name="uq_reminders_subject_window_due"),
                      # one org's pending/queued rows, whatever the statistics (migration 0005)
                      Index("ix_reminders_org_id_status", "org_id", "status"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(32))
    window: Mapped[str] = mapped_column(String(20))  # e.g. 30d, 7d, 1d, expired
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="pending",  # pending|sent|superseded
                                        index=True)
    message_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The console's, the members', the service permissions', the failed-authentication and the
# webhooks' tables live in modules of their own; importing them here registers them with every
# other model (Alembic, the ownership guard and the teardown's verifier read one metadata).
from store import (  # noqa: E402, F401
    auth_failures,
    console_models,
    contact_models,
    member_models,
    permission_models,
    webhook_models,
)
