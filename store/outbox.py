"""Queries of the outbox: queueing a message once, claiming messages to send, marking the outcome.

Why the claim is an `UPDATE ... SET attempts = attempts + 1 WHERE status = 'pending'` and not a
read: the statement takes the row locks (PostgreSQL) or the write lock (SQLite) and keeps them
until the delivering transaction ends, so two senders of one message (the sweep's delivery phase
and the message's own delivery workflow, or two sweeps) never send it at the same time. The
second waits, then finds it no longer pending and leaves it alone. One statement claims a whole
chunk: its rows are locked in id order (`SELECT ... ORDER BY id FOR UPDATE` inside the
`UPDATE`), so two senders claiming overlapping chunks queue on the first row they share instead
of deadlocking, and after the wait PostgreSQL checks `status = 'pending'` again on the row as
the other sender committed it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import insert, or_, select, update
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
    channel: str


def pending_page(session: Session, after: int, limit: int) -> list[PendingRow]:
    """The next pending messages after id `after`, in id order (every kind alike), except
    webhooks still waiting out their backoff (their own delivery sends them when it ends)."""
    due = or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= utcnow())
    rows = session.execute(select(OutboxMessage.id, OutboxMessage.idempotency_key,
                                  OutboxMessage.channel).where(
        OutboxMessage.status == PENDING, OutboxMessage.id > after, due)
        .order_by(OutboxMessage.id).limit(limit)).all()
    return [PendingRow(row.id, row.idempotency_key, row.channel) for row in rows]


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


def claim(session: Session, message_ids: Sequence[int]) -> list[OutboxMessage]:
    """Count an attempt on each of these messages that is still pending and hold their locks
    for this transaction; the claimed ones in id order (the others were sent, or failed, by
    another sender). One statement, whatever the number of messages."""
    if not message_ids:
        return []
    locked = (select(OutboxMessage.id).where(OutboxMessage.id.in_(message_ids),
                                             OutboxMessage.status == PENDING)
              .order_by(OutboxMessage.id).with_for_update())
    claimed = session.scalars(
        update(OutboxMessage).where(OutboxMessage.id.in_(locked))
        .values(attempts=OutboxMessage.attempts + 1).returning(OutboxMessage),
        execution_options={"populate_existing": True, "synchronize_session": False}).all()
    return sorted(claimed, key=lambda msg: msg.id)


def mark_sent(session: Session, messages: Sequence[OutboxMessage], now: datetime) -> None:
    """Mark these (claimed) messages sent, in one statement, and so in the session too."""
    if messages:
        session.execute(update(OutboxMessage).where(
            OutboxMessage.id.in_([msg.id for msg in messages]))
            .values(status=SENT, sent_at=now, last_error=None),
            execution_options={"synchronize_session": "evaluate"})


def note_error(msg: OutboxMessage, reason: str, *, final: bool) -> None:
    """Keep why the attempt failed; a final failure ends the message."""
    msg.last_error = reason[:ERROR_LENGTH]
    if final:
        msg.status = FAILED


def pending_batches(session: Session, batches: Mapping[str, str]) -> set[str]:
    """Of these digest batches (batch key -> org id; a batch's messages have keys
    `<batch>:...`), the ones with a message still waiting to be sent. One query."""
    if not batches:
        return set()
    session.flush()
    of_org: dict[str, list[str]] = {}
    for batch, org_id in batches.items():
        of_org.setdefault(org_id, []).append(batch)
    rows = session.execute(select(OutboxMessage.org_id, OutboxMessage.idempotency_key).where(
        OutboxMessage.org_id.in_(of_org), OutboxMessage.status == PENDING))
    return {batch for org_id, key in rows for batch in of_org.get(org_id or "", [])
            if key.startswith(batch + ":")}
