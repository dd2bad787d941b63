"""Deliver outbox messages, a chunk per transaction: a sweep's page, or one message at once.

Every path sends through `_deliver`, the one guard. Its transaction opens by claiming the whole
chunk in one statement (`store.outbox.claim`), which holds the chunk's row locks (PostgreSQL) or
the write lock (SQLite) while its messages are sent, one after another, over one open SMTP
session; so two senders never send the same row at the same time: the second waits, then sees
the rows settled and skips them. The accepted messages are then marked `sent` in one statement,
the digest batches they complete are closed, and the chunk commits once. Why a chunk and not a
message per transaction: the per-message claim, mark, batch check and commit cost seven round
trips and a WAL flush per mail, more than the mail itself. A page of the sweep is cut into
chunks of up to `CHUNK_MESSAGES` mails, a digest batch never split; a webhook is a chunk of its
own, because its attempt writes its endpoint's health and delivery log and may wait out the
endpoint's timeout, which should hold one endpoint's lock, briefly, not a chunk's. The single
message paths (`deliver_message`, `deliver_attempt`) are a chunk of one.

What an error means is decided by `delivery_errors.classify`, per message: an error no retry
can fix marks that message `failed` with its reason at once and the chunk goes on; a transient
one counts the attempt, and the message is retried until the channel's attempt limit. Nothing
a channel raises can leave a message pending forever, so one poison message never holds up the
chunk, the page, the sweep, or anyone's reminders.

The honest boundary: if the process dies after the receiver accepted a message and before the
chunk's commit, the whole chunk rolls back and stays `pending`, and the retry sends again every
message of the chunk the receiver had accepted, each with the same Message-ID / delivery id.
That is at-least-once delivery with a stable id, i.e. exactly once for any receiver that
dedupes on it (mail clients thread identical Message-IDs; webhook receivers are told to dedupe).
No design can do better with SMTP, which has no way to ask "did you already take this one?";
a chunk only widens the window from one message to those sent before the crash in its chunk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities import fanout, webhook_send
from activities.channels import Channels
from activities.delivery_errors import DeliveryError
from contracts.outbox import (
    FAILED,
    MISSING,
    RETRY,
    SENT,
    SKIPPED,
    OutboxAttemptResult,
    OutboxDeliveryInput,
    OutboxDeliveryResult,
)
from contracts.sweep import PageInput, PageResult
from core.settings import Settings
from store import outbox, reminders
from store.base import utcnow
from store.models import OutboxMessage

# A receiver that is down is an expected retry, already logged in one line by the channel: as
# BENIGN the SDK logs the failed attempt at debug level, without a traceback per retry.
EXPECTED_RETRY = ApplicationErrorCategory.BENIGN
log = logging.getLogger(__name__)

# Called after a send was accepted and before it is marked: tests inject a crash here.
AfterSend = Callable[[OutboxMessage], None]
# Starts the at-once delivery of committed messages, by idempotency key (given by the worker).
StartDelivery = Callable[[Sequence[str]], None]
DELIVERY_PENDING = "DeliveryPending"  # error type of an attempt a later one may complete
# Mails per delivery transaction: enough that the claim, the marks and the commit cost little
# per mail, few enough that a chunk holds its locks for a fraction of a second.
CHUNK_MESSAGES = 50


def batch_of(idempotency_key: str) -> str | None:
    """The digest batch (`kx:<sweep>:<org>:<set>`) a sweep message belongs to, if any."""
    if not idempotency_key.startswith(reminders.BATCH_PREFIX):
        return None
    parts = idempotency_key.split(":")
    return ":".join(parts[:4])


def chunks(rows: Sequence[outbox.PendingRow],
           size: int = CHUNK_MESSAGES) -> list[list[int]]:
    """A page's message ids cut into the units one transaction delivers, by first id: mails
    packed up to `size` per chunk, a digest batch's messages always in one chunk (the last one
    marked closes the batch, which needs the others' marks in the same transaction or already
    committed), each webhook alone (see the module's docstring)."""
    units: dict[str, list[int]] = {}
    for row in rows:
        units.setdefault(batch_of(row.idempotency_key) or f"#{row.id}", []).append(row.id)
    webhooks = {row.id for row in rows if row.channel == "webhook"}
    out: list[list[int]] = []
    chunk: list[int] = []
    for ids in units.values():
        if ids[0] in webhooks:
            out.append(ids)
            continue
        if chunk and len(chunk) + len(ids) > size:
            out.append(chunk)
            chunk = []
        chunk.extend(ids)
    if chunk:
        out.append(chunk)
    return sorted(out)


@dataclass
class Delivered:
    """One attempt's outcome; a webhook to retry says when, and messages to start after the
    commit (the admin's mail when an endpoint was just disabled)."""

    outcome: str
    retry_in: float | None = None
    follow_up: list[str] = field(default_factory=list)


class DeliveryActivities:
    """The delivery activities, bound to a session factory, the channel settings and the
    start function of at-once deliveries (given by the worker)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 after_send: AfterSend | None = None,
                 start_delivery: StartDelivery | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.after_send = after_send
        self.start_delivery = start_delivery

    @activity.defn(name="sweep_deliver_outbox")
    def deliver(self, page: PageInput) -> PageResult:
        """Send the next page of pending messages (every kind: reminders and notices alike).

        This is the backstop for messages whose own delivery did not get them out. Transient
        failures leave their rows pending and fail the activity afterwards, so Temporal retries
        the page with backoff; a row that used up its attempts is `failed`.
        """
        after = int(page.cursor or 0)
        with self.sessions() as session:
            rows = outbox.pending_page(session, after, page.limit)
            threads = fanout.threads_for(session)
        result = PageResult(cursor=str(rows[-1].id) if rows else page.cursor,
                            done=len(rows) < page.limit)
        keys = {row.id: row.idempotency_key for row in rows}
        local = threading.local()
        retry = 0
        paced: list[str] = []
        with ExitStack() as opened:
            def deliver_chunk(ids: list[int]) -> list[Delivered]:
                if not hasattr(local, "channels"):  # one SMTP session per thread
                    local.channels = opened.enter_context(Channels(self.settings))
                return self._deliver(ids, local.channels)

            for ids, outcomes in fanout.each(chunks(rows), deliver_chunk, threads):
                for message_id, done in zip(ids, outcomes, strict=True):
                    result.sent += done.outcome == SENT
                    result.failed += done.outcome == FAILED
                    if done.outcome == RETRY and done.retry_in is not None:
                        # A webhook waits out its backoff in its own delivery, not the page's.
                        paced.append(keys[message_id])
                    elif done.outcome == RETRY:
                        retry += 1
                    paced.extend(done.follow_up)
        self._start(paced)
        if retry:
            raise ApplicationError(f"{retry} message(s) not accepted yet; retrying the page",
                                   type=DELIVERY_PENDING, category=EXPECTED_RETRY)
        return result

    @activity.defn(name="outbox_deliver_message")
    def deliver_message(self, inp: OutboxDeliveryInput) -> OutboxDeliveryResult:
        """Send one message now; a transient failure fails the attempt, so Temporal retries it
        with backoff (each attempt counts against the channel's limit, which ends them)."""
        with self.sessions() as session:
            msg = outbox.find(session, inp.idempotency_key)
            message_id = msg.id if msg is not None else None
        if message_id is None:
            log.warning("outbox delivery: no message %s", inp.idempotency_key)
            return OutboxDeliveryResult(inp.idempotency_key, MISSING)
        with Channels(self.settings) as channels:
            (done,) = self._deliver([message_id], channels)
        self._start(done.follow_up)
        if done.outcome == RETRY:
            raise ApplicationError(f"outbox {message_id} not accepted yet", type=DELIVERY_PENDING,
                                   category=EXPECTED_RETRY)
        return OutboxDeliveryResult(inp.idempotency_key, done.outcome)

    @activity.defn(name="outbox_deliver_attempt")
    def deliver_attempt(self, inp: OutboxDeliveryInput) -> OutboxAttemptResult:
        """One attempt at a message whose waits the workflow keeps (webhooks): a transient
        failure answers RETRY with the jittered wait before the next attempt."""
        with self.sessions() as session:
            msg = outbox.find(session, inp.idempotency_key)
            message_id = msg.id if msg is not None else None
        if message_id is None:
            return OutboxAttemptResult(inp.idempotency_key, MISSING)
        due = msg.next_attempt_at if msg is not None else None
        if inp.wait_until_due and due is not None and due > utcnow():
            # Started by the sweep after an attempt failed there: its wait comes first.
            return OutboxAttemptResult(inp.idempotency_key, RETRY,
                                       (due - utcnow()).total_seconds())
        with Channels(self.settings) as channels:
            (done,) = self._deliver([message_id], channels)
        self._start(done.follow_up)
        return OutboxAttemptResult(inp.idempotency_key, done.outcome, done.retry_in)

    def _start(self, keys: list[str]) -> None:
        if keys and self.start_delivery is not None:
            self.start_delivery(keys)

    def _deliver(self, message_ids: Sequence[int], channels: Channels) -> list[Delivered]:
        """Claim, send and mark a chunk of messages in one transaction: for each, SENT, FAILED,
        RETRY, or SKIPPED (settled already, by another sender)."""
        done: dict[int, Delivered] = {}
        with self.sessions.begin() as session:
            claimed = outbox.claim(session, message_ids)
            sent: list[OutboxMessage] = []
            settled: list[OutboxMessage] = []  # no longer pending once committed
            receiver_down = False
            for msg in claimed:
                if receiver_down:
                    # The receiver itself failed the last send (down, hanging until its
                    # timeout, its session lost): the rest of the chunk waits for the page's
                    # retry, the claim's attempt given back, so the chunk's locks are held for
                    # one timeout at most, never one per message. One recipient deferred
                    # (a 4xx at RCPT) holds back nobody else.
                    msg.attempts -= 1
                    done[msg.id] = Delivered(RETRY)
                    continue
                attempt = webhook_send.Attempt()
                try:
                    self._send(session, channels, msg, attempt)
                except DeliveryError as exc:
                    done[msg.id] = self._failed(session, msg, exc, attempt)
                    if done[msg.id].outcome == FAILED:
                        settled.append(msg)
                    receiver_down = exc.receiver_down
                    continue
                if self.after_send is not None:
                    self.after_send(msg)
                sent.append(msg)
                if msg.channel == "webhook":
                    webhook_send.record(session, self.settings, msg, attempt, None, None)
                done[msg.id] = Delivered(SENT, follow_up=attempt.follow_up)
            now = utcnow()
            outbox.mark_sent(session, sent, now)
            self._close_batches(session, sent + settled, now)
        return [done.get(message_id, Delivered(SKIPPED)) for message_id in message_ids]

    def _failed(self, session: Session, msg: OutboxMessage, exc: DeliveryError,
                attempt: webhook_send.Attempt) -> Delivered:
        webhook = msg.channel == "webhook"
        limit = self.settings.webhook_max_attempts if webhook else self.settings.mail_max_attempts
        final = exc.permanent or msg.attempts >= limit
        # Ids and reasons only: recipients and bodies stay out of the logs.
        log.warning("outbox %s (%s) attempt %s: %s%s", msg.id, msg.channel,
                    msg.attempts, exc.reason, " - giving up" if final else "")
        outbox.note_error(msg, exc.reason, final=final)
        retry_in = None
        if webhook:
            if not final:
                retry_in = webhook_send.retry_delay(self.settings, msg.attempts)
                msg.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
            webhook_send.record(session, self.settings, msg, attempt, exc, retry_in)
        if not final:
            return Delivered(RETRY, retry_in, attempt.follow_up)
        return Delivered(FAILED, follow_up=attempt.follow_up)

    def _send(self, session: Session, channels: Channels, msg: OutboxMessage,
              attempt: webhook_send.Attempt) -> None:
        if msg.channel == "email":
            channels.send_email(msg.idempotency_key, msg.recipient, msg.subject, msg.body)
        elif msg.channel == "webhook":
            webhook_send.send(session, self.settings, channels, msg, attempt)
        else:
            raise DeliveryError(f"unknown channel {msg.channel!r}", permanent=True)

    @staticmethod
    def _close_batches(session: Session, settled: Sequence[OutboxMessage],
                       now: datetime) -> None:
        """Once no message of a digest batch is pending, its reminders count as sent: the
        batches these settled messages belong to, checked and closed in two statements."""
        batches = {batch: msg.org_id for msg in settled
                   if (batch := batch_of(msg.idempotency_key)) is not None
                   and msg.org_id is not None}
        if not batches:
            return
        waiting = outbox.pending_batches(session, batches)
        reminders.mark_batches_sent(
            session, {b: org for b, org in batches.items() if b not in waiting}, now)

    def all(self) -> list[Callable[..., Any]]:
        return [self.deliver, self.deliver_message, self.deliver_attempt]
