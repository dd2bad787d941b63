"""Queries of the key-expiry sweep: due keys and cards, ledger claims, pending reminders.

Why the ledger insert ignores conflicts: the unique row (subject, window, due_at) is the only
thing that decides "this reminder exists". Two overlapping sweeps, or a page retried after its
transaction committed, insert the same rows; the database keeps the first and the others are
no-ops, so nothing is announced twice and no application-level locking is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Table, or_, select, text, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from store.apikeys import KeyListRow
from store.audit import audit_many
from store.models import (
    ApiKey,
    Member,
    Organization,
    OrgStatus,
    PaymentMethod,
    PaymentStatus,
    Project,
    Reminder,
    Role,
)

API_KEY = "api_key"
CARD = "card"

PENDING = "pending"  # claimed by a sweep, not yet in the outbox
QUEUED = "queued"  # written into an outbox digest (message_key names the batch)
SENT = "sent"  # every message of its batch was accepted by its channel
SUPERSEDED = "superseded"  # a closer window was announced instead
VOID = "void"  # the subject changed (extended, revoked, deleted) before it was announced
# Outbox idempotency keys of reminder digests start with this (`kx:<sweep>:<org>:<set>`).
BATCH_PREFIX = "kx:"
KEY_EXPIRED = "api_key.expired"  # audit action of a key the sweep marked expired

CLAIM_CHUNK = 1000  # rows per INSERT statement on PostgreSQL
CLAIM_COLUMNS = ("org_id", "subject_kind", "subject_id", "window", "due_at", "status",
                 "message_key", "created_at", "sent_at")
# "window" is a reserved word in PostgreSQL: every column is quoted.
_QUOTED = ", ".join(f'"{c}"' for c in CLAIM_COLUMNS)
CLAIM_SQL = (f"INSERT INTO reminders ({_QUOTED}) VALUES %s "
             "ON CONFLICT ON CONSTRAINT uq_reminders_subject_window_due DO NOTHING")


@dataclass(frozen=True)
class DueKey:
    id: str
    org_id: str
    expires_at: datetime


@dataclass(frozen=True)
class DueCard:
    id: str
    org_id: str
    exp_year: int
    exp_month: int


def due_keys(session: Session, due_before: datetime, after: tuple[datetime, str] | None,
             limit: int) -> list[DueKey]:
    """Keys expiring by `due_before`, live, in active orgs, after the keyset cursor.

    Walks `ix_api_keys_expires_at_id` in order. Keys already announced as expired are left out
    unless they were extended after that (their `expires_at` moved past the marker).
    """
    query = (select(ApiKey.id, ApiKey.org_id, ApiKey.expires_at)
             .join(Organization, Organization.id == ApiKey.org_id)
             .where(ApiKey.expires_at <= due_before, ApiKey.revoked_at.is_(None),
                    Organization.status == OrgStatus.ACTIVE,
                    or_(ApiKey.expired_marked_at.is_(None),
                        ApiKey.expired_marked_at < ApiKey.expires_at))
             .order_by(ApiKey.expires_at, ApiKey.id).limit(limit))
    if after is not None:
        query = query.where(tuple_(ApiKey.expires_at, ApiKey.id) > tuple_(*after))
    return [DueKey(r.id, r.org_id, r.expires_at) for r in session.execute(query)]


def due_cards(session: Session, before_month_index: int, after: str,
              limit: int) -> list[DueCard]:
    """Valid cards of active orgs whose expiry month is before `before_month_index`, i.e.
    whose validity ends by the start of that month (see `month_index`)."""
    query = (select(PaymentMethod.id, PaymentMethod.org_id, PaymentMethod.exp_year,
                    PaymentMethod.exp_month)
             .join(Organization, Organization.id == PaymentMethod.org_id)
             .where(PaymentMethod.status == PaymentStatus.VALID,
                    Organization.status == OrgStatus.ACTIVE,
                    PaymentMethod.exp_year * 12 + PaymentMethod.exp_month < before_month_index,
                    PaymentMethod.id > after)
             .order_by(PaymentMethod.id).limit(limit))
    return [DueCard(r.id, r.org_id, r.exp_year, r.exp_month) for r in session.execute(query)]


def existing(session: Session, kind: str, subject_ids: Sequence[str]
             ) -> set[tuple[str, str, datetime]]:
    """(subject, window, due_at) already in the ledger for these subjects: one index range
    read per page, so a repeated sweep writes nothing at all."""
    if not subject_ids:
        return set()
    rows = session.execute(select(Reminder.subject_id, Reminder.window, Reminder.due_at).where(
        Reminder.subject_kind == kind, Reminder.subject_id.in_(subject_ids)))
    return {(r.subject_id, r.window, r.due_at) for r in rows}


def claim(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ledger rows, ignoring any that already exist (the exactly-once decision).

    Why not a Core insert: compiling a 1,000-row VALUES list costs SQLAlchemy ~0.25 s and
    psycopg2's plain executemany sends a statement per row; on PostgreSQL `execute_values`
    on the session's own connection (same transaction) does a page in milliseconds, and on
    SQLite a compiled-once executemany is already fast.
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from psycopg2.extras import execute_values

        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            execute_values(cursor, CLAIM_SQL, [tuple(r[c] for c in CLAIM_COLUMNS) for r in rows],
                           page_size=CLAIM_CHUNK)
        finally:
            cursor.close()
        return
    table: Table = Reminder.__table__  # type: ignore[assignment]
    session.execute(sqlite.insert(table).on_conflict_do_nothing(), list(rows))


def mark_keys_expired(session: Session, key_ids: Sequence[str], now: datetime,
                      actor: str = "sweep") -> int:
    """Record that the sweep announced these keys as expired (auth refuses them regardless).

    Each key marked now also gets an `api_key.expired` audit event in the same transaction:
    the marker dies with the key (deleted, or its org torn down), the audit trail does not, so
    the event is what "keys expired so far" is counted from (`store.business_totals`). Only
    rows this statement changed get one, so a retried page adds no second event.
    """
    if not key_ids:
        return 0
    marked = session.execute(update(ApiKey).where(
        ApiKey.id.in_(key_ids),
        or_(ApiKey.expired_marked_at.is_(None), ApiKey.expired_marked_at < ApiKey.expires_at))
        .values(expired_marked_at=now).returning(ApiKey.org_id, ApiKey.prefix)).all()
    audit_many(session, actor, KEY_EXPIRED, [(org_id, f"key:{prefix}")
                                             for org_id, prefix in marked])
    return len(marked)


def mark_cards_unavailable(session: Session, card_ids: Sequence[str], now: datetime) -> None:
    """An expired card can no longer pay: the console shows "check your payment settings"."""
    if card_ids:
        session.execute(update(PaymentMethod).where(
            PaymentMethod.id.in_(card_ids), PaymentMethod.status == PaymentStatus.VALID)
            .values(status=PaymentStatus.UNAVAILABLE, updated_at=now))


def orgs_with_pending(session: Session, after: str, limit: int) -> list[str]:
    """Orgs that have claimed reminders waiting for a digest, in id order after `after`."""
    query = (select(Reminder.org_id).where(Reminder.status == PENDING, Reminder.org_id > after)
             .group_by(Reminder.org_id).order_by(Reminder.org_id).limit(limit))
    return list(session.scalars(query))


class PendingReminder(NamedTuple):
    """A pending ledger row as compose reads it: the columns it decides on, no ORM entity (a
    page holds thousands; building and tracking entities was most of compose's own time)."""

    id: int
    org_id: str
    subject_kind: str
    subject_id: str
    window: str
    due_at: datetime


def pending_of_orgs(session: Session, org_ids: Sequence[str]) -> list[PendingReminder]:
    """The pending reminders of these orgs, locked on PostgreSQL so an overlapping sweep skips
    them (and this one skips theirs)."""
    if not org_ids:
        return []
    query = (select(Reminder.id, Reminder.org_id, Reminder.subject_kind, Reminder.subject_id,
                    Reminder.window, Reminder.due_at)
             .where(Reminder.org_id.in_(org_ids), Reminder.status == PENDING)
             .order_by(Reminder.id).with_for_update(skip_locked=True))
    return [PendingReminder(*row) for row in session.execute(query)]


# What a digest says and checks of a key (see `activities.digests`): the columns the key lists
# show, one row type for both.
KeySubject = KeyListRow


class CardSubject(NamedTuple):
    """What a digest says and checks of a payment card."""

    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    status: PaymentStatus


class Recipient(NamedTuple):
    """A member as a digest needs them: who they are to the org, where mail goes, their zone."""

    id: str
    org_id: str
    email: str
    role: Role
    timezone: str


@dataclass(frozen=True)
class DigestSubjects:
    """What the digests of a page of orgs need to say about their reminders, in four queries."""

    members: dict[str, dict[str, Recipient]]  # by org id, then member id
    keys: dict[str, KeySubject]  # by id
    cards: dict[str, CardSubject]  # by id
    project_names: dict[str, str]  # by id


def subjects_of(session: Session, org_ids: Sequence[str]) -> DigestSubjects:
    """The orgs' members, and the keys, cards and projects their pending reminders name.

    Subjects are found through the ledger (a subquery), not by an id list, so a page of many
    thousand reminders stays four statements of fixed size. Only the columns a digest uses are
    read, as plain tuples."""
    members: dict[str, dict[str, Recipient]] = {org_id: {} for org_id in org_ids}
    for row in session.execute(select(Member.id, Member.org_id, Member.email, Member.role,
                                      Member.timezone).where(Member.org_id.in_(org_ids))):
        member = Recipient(*row)
        members[member.org_id][member.id] = member

    def named(kind: str) -> Any:
        return select(Reminder.subject_id).where(
            Reminder.org_id.in_(org_ids), Reminder.status == PENDING,
            Reminder.subject_kind == kind)

    # Each tuple's fields are its table's column names.
    keys = {row.id: KeySubject(*row) for row in session.execute(
        select(*(getattr(ApiKey, name) for name in KeySubject._fields))
        .where(ApiKey.id.in_(named(API_KEY))))}
    cards = {row.id: CardSubject(*row) for row in session.execute(
        select(*(getattr(PaymentMethod, name) for name in CardSubject._fields))
        .where(PaymentMethod.id.in_(named(CARD))))}
    project_ids = {k.project_id for k in keys.values() if k.project_id}
    projects = dict(session.execute(select(Project.id, Project.name)
                                    .where(Project.id.in_(project_ids))).all())
    return DigestSubjects(members, keys, cards, projects)


@dataclass(frozen=True)
class Move:
    """One pending reminder's new status, and the digest batch it went into (if queued)."""

    id: int
    status: str
    message_key: str | None = None


# Ids, statuses and batch keys as three arrays: a 10,000-row move is one short statement, its
# parameters adapted by the driver in C rather than spelled out as VALUES in Python.
MOVE_PG_SQL = ("UPDATE reminders AS r SET status = v.status, "
               "message_key = coalesce(v.message_key, r.message_key) "
               "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, status, message_key) "
               "WHERE r.id = v.id AND r.status = 'pending'")
MOVE_SQLITE_SQL = ("UPDATE reminders SET status = :status, "
                   "message_key = coalesce(:message_key, message_key) "
                   "WHERE id = :id AND status = 'pending'")

T = TypeVar("T")


def move_while(session: Session, moves: Sequence[Move], work: Callable[[], T]
               ) -> tuple[int, T]:
    """Move pending rows to their new status in one statement (PostgreSQL: an `UPDATE ... FROM
    unnest(...)`; SQLite, in-process, a compiled-once executemany), and run `work`; returns how
    many rows moved (fewer than asked means another sweep moved some first) and `work`'s result.

    Why together: on PostgreSQL `work` runs while the server executes the statement, which is
    most of a compose page's database time (every moved row writes each index of the ledger),
    so the page's digests render meanwhile instead of after.

    `work` must not touch the session: the statement runs on the session's connection from a
    second thread, the caller's thread only computes. Whatever `work` does, the statement has
    finished when this returns or raises, so the transaction is never ended under it.
    """
    if not moves or session.get_bind().dialect.name != "postgresql":
        result = work()
        if not moves:
            return 0, result
        done = session.execute(text(MOVE_SQLITE_SQL), [
            {"id": m.id, "status": m.status, "message_key": m.message_key} for m in moves])
        return int(getattr(done, "rowcount", 0) or 0), result
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    columns = ([m.id for m in moves], [m.status for m in moves], [m.message_key for m in moves])

    def execute() -> int:
        cursor = raw.cursor()
        try:
            cursor.execute(MOVE_PG_SQL, columns)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    # Leaving the block waits for the statement, also when `work` raised.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="move") as pool:
        statement = pool.submit(execute)
        result = work()
        return statement.result(), result


def mark_batches_sent(session: Session, batches: Mapping[str, str], now: datetime) -> None:
    """Reminders of these digest batches (batch key -> org id) become `sent`: every message of
    each went out. One statement."""
    if batches:
        session.execute(update(Reminder).where(
            Reminder.org_id.in_(set(batches.values())), Reminder.message_key.in_(batches),
            Reminder.status == QUEUED).values(status=SENT, sent_at=now))
