"""Queries of the outbox: queueing a message once, claiming one to send, marking the outcome.

Why the claim is an `UPDATE ... SET attempts = attempts + 1 WHERE status = 'pending'` and not a
read: the statement takes the row lock (PostgreSQL) or the write lock (SQLite) and keeps it until
the delivering transaction ends, so two senders of one message (the sweep's delivery phase and the
message's own delivery workflow, or two sweeps) never send it at the same time. The second waits,
then finds it no longer pending and leaves it alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from core.idempotency import idempotency_prefix
from store.base import utcnow
from store.models import OutboxMessage

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
ERROR_LENGTH = 500  # the `last_error` column


class PendingRow(NamedTuple):
    id: int
    idempotency_key: str


def pending_page(session: Session, after: int, limit: int) -> list[PendingRow]:
    """The next pending messages after id `after`, in id order (every kind alike), except
    webhooks still waiting out their backoff (their own delivery sends them when it ends)."""
    due = or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= utcnow())
    rows = session.execute(select(OutboxMessage.id, OutboxMessage.idempotency_key).where(
        OutboxMessage.status == PENDING, OutboxMessage.id > after, due)
        .order_by(OutboxMessage.id).limit(limit)).all()
    return [PendingRow(row.id, row.idempotency_key) for row in rows]


def find(session: Session, idempotency_key: str) -> OutboxMessage | None:
    return session.scalars(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == idempotency_key)).one_or_none()


def queue(session: Session, *, idempotency_key: str, org_id: str | None, channel: str,
          recipient: str, subject: str, body: str) -> OutboxMessage:
    """Add a pending message; the caller checked `find` first in the same transaction (and the
    unique key refuses a concurrent twin)."""
    msg = OutboxMessage(idempotency_key=idempotency_key, org_id=org_id, channel=channel,
                        recipient=recipient, subject=subject, body=body, status=PENDING,
                        attempts=0)
    session.add(msg)
    return msg


def queue_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add pending messages in one batched insert (`queue`'s fields, one dict per message)."""
    if rows:
        session.execute(insert(OutboxMessage), [
            {**row, "status": PENDING, "attempts": 0} for row in rows])


def recipients(session: Session, key_prefix: str) -> list[str]:
    """The distinct recipients of the messages whose key starts with `key_prefix`, in the
    order they were first written to."""
    seen: dict[str, None] = {}
    for recipient in session.scalars(select(OutboxMessage.recipient).where(
            OutboxMessage.idempotency_key.startswith(key_prefix, autoescape=True))
            .order_by(OutboxMessage.id)):
        seen.setdefault(recipient, None)
    return list(seen)


def pending_keys(session: Session, key: str) -> list[str]:
    """`key` and the keys derived from it (`key:...`) whose messages still wait delivery."""
    return list(session.scalars(select(OutboxMessage.idempotency_key).where(
        (OutboxMessage.idempotency_key == key)
        | OutboxMessage.idempotency_key.startswith(idempotency_prefix(key), autoescape=True),
        OutboxMessage.status == PENDING).order_by(OutboxMessage.id)))


def claim(session: Session, message_id: int) -> OutboxMessage | None:
    """Count an attempt on a pending message and hold its lock for this transaction; None when
    it is no longer pending (sent, or failed, by another sender)."""
    claimed = session.execute(update(OutboxMessage).where(
        OutboxMessage.id == message_id, OutboxMessage.status == PENDING)
        .values(attempts=OutboxMessage.attempts + 1))
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return None
    return session.get_one(OutboxMessage, message_id, populate_existing=True)


def mark_sent(msg: OutboxMessage, now: datetime) -> None:
    msg.status, msg.sent_at, msg.last_error = SENT, now, None


def note_error(msg: OutboxMessage, reason: str, *, final: bool) -> None:
    """Keep why the attempt failed; a final failure ends the message."""
    msg.last_error = reason[:ERROR_LENGTH]
    if final:
        msg.status = FAILED


def pending_in_batch(session: Session, org_id: str, batch: str) -> int:
    """Messages of a digest batch (keys `<batch>:...`) still waiting to be sent."""
    session.flush()
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.org_id == org_id, OutboxMessage.status == PENDING,
        OutboxMessage.idempotency_key.startswith(batch + ":", autoescape=True))) or 0
