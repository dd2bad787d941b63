"""Delivery a chunk per transaction, through the real sweep, a real SMTP server and the database:
one claim and one SMTP session for a chunk, a refused mail mid-chunk, a crash mid-chunk, and two
senders of one page at once."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.delivery import chunks
from contracts.sweep import SweepInput, SweepResult
from core.settings import Settings
from store.db import make_engine
from store.models import OutboxMessage
from store.outbox import PendingRow
from tests.support.sweep_support import (
    Inbox,
    Org,
    add_key,
    local_webhooks,
    make_org,
    run_sweep,
    smtp_server,
    sweep_worker,
)
from workflows.sweep import KeyExpirySweepWorkflow

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ORGS = 5


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    with smtp_server() as (inbox, port):
        yield inbox, local_webhooks(settings, smtp_port=port)


def _orgs_with_a_digest_each(sessions: sessionmaker[Session], settings: Settings,
                             count: int = ORGS) -> list[Org]:
    """Orgs whose admin created one key due in the 7-day window: one mail per org."""
    orgs = [make_org(sessions, settings, name=f"Chunk {i}") for i in range(count)]
    for org in orgs:
        add_key(sessions, org, T0 + 3 * DAY, creator=org.admin)
    return orgs


class Statements:
    """Counts the outbox claims (`UPDATE outbox SET attempts ...`) sent to the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.claims = engine, 0
        self.lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX SET ATTEMPTS"):
            with self.lock:
                self.claims += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def _outbox(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _message_id(msg: OutboxMessage) -> str:
    return f"<{msg.idempotency_key.replace(':', '.')}@localhost>"


def test_a_page_is_cut_into_chunks_that_never_split_a_batch() -> None:
    def mail(i: int, batch: str) -> PendingRow:
        return PendingRow(i, f"kx:sweep:org{batch}:set:{i}", "email")

    rows = [mail(1, "a"), mail(2, "a"), mail(3, "b"),
            PendingRow(4, "wh:evt_1:ep1", "webhook"), mail(5, "c"), mail(6, "c"),
            PendingRow(7, "teardown:notice", "email"), PendingRow(8, "wh:evt_2:ep1", "webhook")]
    # three mails a chunk: batch c (two mails) does not fit beside a and b, so it starts one
    assert chunks(rows, size=3) == [[1, 2, 3], [4], [5, 6, 7], [8]]
    # a batch larger than a chunk stays whole
    assert chunks(rows, size=1) == [[1, 2], [3], [4], [5, 6], [7], [8]]


async def test_a_chunk_of_mails_is_claimed_once_and_sent_over_one_smtp_session(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    orgs = _orgs_with_a_digest_each(session_factory, settings)
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, T0, deliver=False)
        statements = Statements(session_factory.kw["bind"])
        try:
            result = await run_sweep(client, queue, T0 + timedelta(minutes=1))
        finally:
            statements.close()
    rows = _outbox(session_factory)
    assert [(m.status, m.attempts) for m in rows] == [("sent", 1)] * ORGS
    assert result.totals.messages_sent == ORGS
    assert statements.claims == 1  # the page's five mails: one chunk, one claim
    assert inbox.connections == 1 and {m.connection for m in inbox.all()} == {1}
    assert sorted(m.to[0] for m in inbox.all()) == sorted(o.admin for o in orgs)


async def test_a_refused_mail_mid_chunk_fails_alone_and_the_rest_are_sent(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    orgs = _orgs_with_a_digest_each(session_factory, settings)
    refused = orgs[2]
    inbox.refuse.add(refused.admin)  # 550 at RCPT TO: no retry can help
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        result = await run_sweep(client, queue, T0)
    by_org = {m.org_id: m for m in _outbox(session_factory)}
    assert {org_id: (m.status, m.attempts) for org_id, m in by_org.items()} == {
        o.id: ("failed" if o is refused else "sent", 1) for o in orgs}
    assert by_org[refused.id].last_error == "SMTP recipient refused (550)"
    assert (result.totals.messages_sent, result.totals.messages_failed) == (ORGS - 1, 1)
    # the refusal did not cost the session: the mails after it came over the same one
    assert inbox.connections == 1
    assert sorted(m.to[0] for m in inbox.all()) == sorted(o.admin for o in orgs
                                                          if o is not refused)


async def test_a_failing_receiver_mid_chunk_holds_the_rest_back_for_the_retry(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    """A receiver failing for a reason a retry may fix (here a 451 to the mail's data; as well
    a server hanging until the timeout) is not asked again for the rest of the chunk: those
    wait for the page's retry without an attempt charged, and every mail is still sent once."""
    inbox, settings = mail
    _orgs_with_a_digest_each(session_factory, settings)
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, T0, deliver=False)
        in_order = [m.recipient for m in _outbox(session_factory)]
        deferred = in_order[1]  # the chunk's second mail: one before it, three after it
        inbox.fail_once.add(deferred)
        result = await run_sweep(client, queue, T0 + timedelta(minutes=1))
    rows = _outbox(session_factory)
    assert [(m.recipient, m.status, m.attempts) for m in rows] == [
        (to, "sent", 2 if to == deferred else 1) for to in in_order]
    # the page's retry sent the deferred mail and the three after it (the failed attempt's
    # one sent mail is in the outbox, not in the retried page's counts)
    assert result.totals.messages_sent == ORGS - 1
    # Arrival in id order: the three after the deferred mail were not sent before its retry
    # (sending on past a failing receiver would have put the deferred one last).
    assert [m.to[0] for m in inbox.all()] == in_order


async def test_a_deferred_recipient_mid_chunk_holds_back_nobody_else(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    """A 451 at RCPT TO defers that recipient alone (a full mailbox, greylisting): the session
    is still good, so the rest of the chunk goes out at once and only that mail is retried."""
    inbox, settings = mail
    _orgs_with_a_digest_each(session_factory, settings)
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, T0, deliver=False)
        in_order = [m.recipient for m in _outbox(session_factory)]
        deferred = in_order[1]
        inbox.defer_once.add(deferred)
        await run_sweep(client, queue, T0 + timedelta(minutes=1))
    rows = _outbox(session_factory)
    assert [(m.recipient, m.status, m.attempts) for m in rows] == [
        (to, "sent", 2 if to == deferred else 1) for to in in_order]
    # the three after the deferred mail came before its retry
    assert [m.to[0] for m in inbox.all()] == [to for to in in_order if to != deferred] + [
        deferred]


class CrashAfterSend:
    """Fails once, after the receiver accepted the `nth` mail sent: a process dying mid-chunk,
    with the mails before it (and that one) accepted and nothing of the chunk committed."""

    def __init__(self, nth: int) -> None:
        self.nth, self.sends = nth, 0
        self.lock = threading.Lock()

    def __call__(self, msg: OutboxMessage) -> None:
        with self.lock:
            self.sends += 1
            crash = self.sends == self.nth
        if crash:
            raise RuntimeError(f"injected crash after sending outbox {msg.id}")


async def test_a_crash_mid_chunk_resends_the_accepted_mails_with_their_message_ids(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    _orgs_with_a_digest_each(session_factory, settings)
    crash = CrashAfterSend(nth=3)
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory, after_send=crash) as queue:
        await run_sweep(client, queue, T0)
    rows = _outbox(session_factory)
    # the crashed chunk rolled back whole (its claims too); its retry sent every mail once more
    assert [(m.status, m.attempts) for m in rows] == [("sent", 1)] * ORGS
    received = Counter(m.message_id for m in inbox.all())
    assert received == {_message_id(m): 2 if i < 3 else 1 for i, m in enumerate(rows)}
    # a receiver deduping Message-IDs has each digest once, the resent ones identical
    assert len(inbox.unique()) == ORGS
    for msg_id in (_message_id(m) for m in rows[:3]):
        first, second = [m for m in inbox.all() if m.message_id == msg_id]
        assert (first.to, first.subject, first.body) == (second.to, second.subject, second.body)


class HoldUntilAnotherSenderWaits:
    """After the first mail a sender got accepted, holds that sender (its chunk claimed, its
    row locks held) until another transaction waits on a lock in this database, or fails."""

    def __init__(self, url: str, deadline_s: float = 60.0) -> None:
        self.engine = make_engine(url)
        self.deadline_s = deadline_s
        self.holding = threading.Event()
        self.saw_a_waiter = False
        self.sends = 0
        self.lock = threading.Lock()

    def _waiters(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE 'UPDATE outbox%'")) or 0)

    def __call__(self, msg: OutboxMessage) -> None:
        with self.lock:
            self.sends += 1
            if self.sends != 1:
                return
        self.holding.set()
        give_up_at = time.monotonic() + self.deadline_s
        while not self._waiters():  # polls the database for the condition itself
            if time.monotonic() > give_up_at:
                raise RuntimeError("no second sender came to wait on the chunk's row locks")
            time.sleep(0.02)
        self.saw_a_waiter = True


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_senders_of_one_page_at_once_never_send_a_row_twice(
        local_temporal: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings], db_url: str) -> None:
    """PostgreSQL only: there two senders really run at once, one waiting on the other's row
    locks; SQLite lets one writer in at a time, a lock on the whole file."""
    inbox, settings = mail
    _orgs_with_a_digest_each(session_factory, settings)
    hold = HoldUntilAnotherSenderWaits(db_url)
    client = local_temporal.client
    try:
        async with sweep_worker(client, settings, session_factory, after_send=hold) as queue:
            await run_sweep(client, queue, T0, deliver=False)  # the digests, pending

            async def sweep() -> SweepResult:
                result: SweepResult = await client.execute_workflow(
                    KeyExpirySweepWorkflow.run, SweepInput(now=T0 + timedelta(minutes=1)),
                    id=f"sweep-{uuid.uuid4().hex[:8]}", task_queue=queue)
                return result

            first = asyncio.ensure_future(sweep())
            assert await asyncio.to_thread(hold.holding.wait, 60), "the first sender never sent"
            second = await sweep()  # reads the page while the first holds its locks
            first_result = await first
    finally:
        hold.engine.dispose()
    assert hold.saw_a_waiter
    rows = _outbox(session_factory)
    assert [(m.status, m.attempts) for m in rows] == [("sent", 1)] * ORGS
    assert (first_result.totals.messages_sent, second.totals.messages_sent) == (ORGS, 0)
    received = [m.message_id for m in inbox.all()]
    assert sorted(received) == sorted(_message_id(m) for m in rows)  # each exactly once
