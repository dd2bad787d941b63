"""Deliver pending outbox messages, one transaction per message.

The transaction opens by claiming the row (`UPDATE ... SET attempts = attempts + 1 WHERE
status = 'pending'`), which holds its row lock (PostgreSQL) or the write lock (SQLite) while
the message is sent, so an overlapping sweep never sends the same row at the same time: it
waits, then sees `sent` and skips it. Marking `sent` is the only change after a successful send.

The honest boundary: if the process dies after the receiver accepted and before the commit,
the row is still `pending` and the retry sends it again, with the same Message-ID / delivery id.
That is at-least-once delivery with a stable id, i.e. exactly once for any receiver that
dedupes on it (mail clients thread identical Message-IDs; webhook receivers are told to dedupe).
No design can do better with SMTP, which has no way to ask "did you already take this one?".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import fanout
from activities.channels import Channels, DeliveryError
from contracts.sweep import PageInput, PageResult
from core.settings import Settings
from store import reminders
from store.base import utcnow
from store.models import Organization, OutboxMessage

log = logging.getLogger(__name__)

SENT, FAILED, RETRY, SKIPPED = "sent", "failed", "retry", "skipped"
# Called after a send was accepted and before it is marked: tests inject a crash here.
AfterSend = Callable[[OutboxMessage], None]


def batch_of(idempotency_key: str) -> str | None:
    """The digest batch (`kx:<sweep>:<org>:<set>`) a sweep message belongs to, if any."""
    if not idempotency_key.startswith(reminders.BATCH_PREFIX):
        return None
    parts = idempotency_key.split(":")
    return ":".join(parts[:4])


class DeliveryActivities:
    """The delivery phase, bound to a session factory and the channel settings."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 after_send: AfterSend | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.after_send = after_send

    @activity.defn(name="sweep_deliver_outbox")
    def deliver(self, page: PageInput) -> PageResult:
        """Send the next page of pending messages (every kind: reminders and notices alike).

        Transient failures leave their rows pending and fail the activity afterwards, so
        Temporal retries the page with backoff; a row that used up its attempts is `failed`.
        """
        after = int(page.cursor or 0)
        with self.sessions() as session:
            rows = session.execute(select(OutboxMessage.id, OutboxMessage.idempotency_key).where(
                OutboxMessage.status == "pending", OutboxMessage.id > after)
                .order_by(OutboxMessage.id).limit(page.limit)).all()
            threads = fanout.threads_for(session)
        result = PageResult(cursor=str(rows[-1].id) if rows else page.cursor,
                            done=len(rows) < page.limit)
        # A digest batch's messages stay in one thread: the last one sent closes the batch,
        # which needs the others' marks committed (see `_close_batch`).
        batches: dict[str, list[int]] = {}
        for row in rows:
            batches.setdefault(batch_of(row.idempotency_key) or f"#{row.id}", []).append(row.id)
        local = threading.local()
        retry = 0
        with ExitStack() as opened:
            def deliver_batch(ids: list[int]) -> list[str]:
                if not hasattr(local, "channels"):  # one SMTP session per thread
                    local.channels = opened.enter_context(Channels(self.settings))
                return [self._deliver_one(message_id, local.channels) for message_id in ids]

            for _, outcomes in fanout.each(list(batches.values()), deliver_batch, threads):
                result.sent += outcomes.count(SENT)
                result.failed += outcomes.count(FAILED)
                retry += outcomes.count(RETRY)
        if retry:
            raise ApplicationError(f"{retry} message(s) not accepted yet; retrying the page",
                                   type="DeliveryPending")
        return result

    def _deliver_one(self, message_id: int, channels: Channels) -> str:
        with self.sessions.begin() as session:
            claimed = session.execute(update(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.status == "pending")
                .values(attempts=OutboxMessage.attempts + 1))
            if int(getattr(claimed, "rowcount", 0) or 0) != 1:
                return SKIPPED
            msg = session.get_one(OutboxMessage, message_id)
            try:
                self._send(session, channels, msg)
            except DeliveryError as exc:
                limit = (self.settings.webhook_max_attempts if msg.channel == "webhook"
                         else self.settings.mail_max_attempts)
                final = exc.permanent or msg.attempts >= limit
                # Ids and reasons only: recipients and bodies stay out of the logs.
                log.warning("outbox %s (%s) attempt %s: %s%s", msg.id, msg.channel,
                            msg.attempts, exc, " - giving up" if final else "")
                if not final:
                    return RETRY
                msg.status = FAILED
                self._close_batch(session, msg, utcnow())
                return FAILED
            if self.after_send is not None:
                self.after_send(msg)
            now = utcnow()
            msg.status, msg.sent_at = SENT, now
            self._close_batch(session, msg, now)
            return SENT

    def _send(self, session: Session, channels: Channels, msg: OutboxMessage) -> None:
        if msg.channel == "email":
            channels.send_email(msg.idempotency_key, msg.recipient, msg.subject, msg.body)
        elif msg.channel == "webhook":
            secret = session.scalar(select(Organization.webhook_secret)
                                    .where(Organization.id == msg.org_id))
            channels.post_webhook(msg.idempotency_key, msg.recipient, secret, msg.body)
        else:
            raise DeliveryError(f"unknown channel {msg.channel!r}", permanent=True)

    @staticmethod
    def _close_batch(session: Session, msg: OutboxMessage, now: datetime) -> None:
        """Once no message of a digest batch is pending, its reminders count as sent."""
        batch = batch_of(msg.idempotency_key)
        if batch is None or msg.org_id is None:
            return
        session.flush()
        waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.org_id == msg.org_id, OutboxMessage.status == "pending",
            OutboxMessage.idempotency_key.startswith(batch + ":", autoescape=True)))
        if not waiting:
            reminders.mark_batch_sent(session, msg.org_id, batch, now)

    def all(self) -> list[Callable[..., Any]]:
        return [self.deliver]
