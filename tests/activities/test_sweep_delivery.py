"""Delivery of sweep digests through real receivers: crash after send, webhooks, card expiry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core import standard_webhooks
from core.settings import Settings
from store.models import OutboxMessage, PaymentMethod, PaymentStatus, Reminder
from store.webhook_models import WebhookAttempt
from tests.support.sweep_support import (
    Hooks,
    Inbox,
    add_key,
    local_webhooks,
    make_org,
    run_sweep,
    smtp_server,
    sweep_worker,
    webhook_receiver,
)
from tests.support.teardown_support import eventually

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    with smtp_server() as (inbox, port):
        yield inbox, local_webhooks(settings, smtp_port=port, webhook_max_attempts=3)


class CrashOnce:
    """Fails the first delivery of each channel after the receiver accepted it, before the
    outbox row is marked: the window a process crash would hit."""

    def __init__(self) -> None:
        self.crashed: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, msg: OutboxMessage) -> None:
        with self.lock:
            if msg.channel in self.crashed:
                return
            self.crashed.add(msg.channel)
        raise RuntimeError(f"injected crash after sending outbox {msg.id}")


async def test_crash_after_send_neither_loses_nor_duplicates_a_digest(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    hooks = Hooks(secret=standard_webhooks.new_secret())
    crash = CrashOnce()
    with webhook_receiver(hooks) as url:
        org = make_org(session_factory, settings, webhook=(url, hooks.secret))
        for i in range(3):
            add_key(session_factory, org, T0 + (i + 1) * DAY, creator=org.others[0])
        client = time_skipping_env.client
        async with sweep_worker(client, settings, session_factory, after_send=crash) as queue:
            result = await run_sweep(client, queue, T0)
            await run_sweep(client, queue, T0 + timedelta(minutes=5))  # a later sweep: no-op
    assert crash.crashed == {"email", "webhook"}
    with session_factory() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
        statuses = set(session.scalars(select(Reminder.status)))
    assert {m.status for m in outbox} == {"sent"} and statuses == {"sent", "superseded"}
    # two people, and one webhook event per key (each window its own event)
    assert result.totals.messages_queued == len(outbox) == 5
    # the crashed mail went out twice with one Message-ID: a receiver deduping sees it once
    raw, unique = inbox.all(), inbox.unique()
    assert len(raw) == 3 and len(unique) == 2
    ids = {f"<{m.idempotency_key.replace(':', '.')}@localhost>" for m in outbox
           if m.channel == "email"}
    assert set(unique) == ids
    assert all(m.body.count("- key ") == 3 for m in unique.values())
    # the crashed webhook likewise: posted twice with one webhook-id
    assert len(hooks.delivery_ids) == 4 and len(set(hooks.delivery_ids)) == 3
    assert {e["type"] for e in hooks.unique().values()} == {"api_key.expiring"}


async def test_webhook_is_signed_retried_with_backoff_and_delivered_once(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    hooks = Hooks(secret=standard_webhooks.new_secret(), refuse_first=2)
    with webhook_receiver(hooks) as url:
        org = make_org(session_factory, settings, webhook=(url, hooks.secret))
        wrong = make_org(session_factory, settings,
                         webhook=(url, standard_webhooks.new_secret()))
        plain = make_org(session_factory, settings)
        keys = {o.id: add_key(session_factory, o, T0 + 3 * DAY, creator=o.admin, project=True)
                for o in (org, wrong, plain)}
        client = own_time_skipping_env.client
        async with sweep_worker(client, settings, session_factory) as queue:
            result = await run_sweep(client, queue, T0)
            await run_sweep(client, queue, T0 + timedelta(hours=1))

            async def settled() -> dict[str | None, tuple[str, int]]:
                await own_time_skipping_env.sleep(timedelta(hours=1))  # server time only
                with session_factory() as session:
                    return {m.org_id: (m.status, m.attempts) for m in session.scalars(
                        select(OutboxMessage).where(OutboxMessage.channel == "webhook"))}

            # the sweep's first attempt failed; each message then waits out its own backoff
            rows = await eventually(settled, lambda r: "pending" not in
                                    {status for status, _ in r.values()}, timeout=60)
    # org: refused twice (503), then accepted once; wrong secret: refused until attempts ran out
    assert hooks.delivery_ids and len(hooks.delivery_ids) == len(set(hooks.delivery_ids)) == 1
    (event,) = hooks.accepted
    assert event["org_id"] == org.id and event["id"] == hooks.delivery_ids[0]
    assert event["type"] == "api_key.expiring"
    data = event["data"]
    assert data["key_id"] == keys[org.id] and data["window"] == "7d"
    assert data["scope"] == "project"
    assert data["expires_at"] == (T0 + 3 * DAY).isoformat() and data["expired"] is False
    assert hooks.bad_signatures == settings.webhook_max_attempts
    assert rows == {org.id: ("sent", 3), wrong.id: ("failed", 3)}
    assert result.totals.messages_failed == 0  # webhooks retry in their own deliveries
    # every org's admin got exactly one mail whatever its webhook did
    assert sorted(m.to[0] for m in inbox.all()) == sorted([org.admin, wrong.admin, plain.admin])
    with session_factory() as session:
        log = session.scalars(select(WebhookAttempt).where(WebhookAttempt.org_id == org.id)
                              .order_by(WebhookAttempt.id)).all()
    assert [(a.attempt, a.status_code) for a in log] == [(1, 503), (2, 503), (3, 200)]
    assert all(a.next_retry_at is not None for a in log[:2]) and log[2].next_retry_at is None


async def test_card_expiry_reminds_the_admin_then_marks_the_card_unavailable(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    org = make_org(session_factory, settings, name="Cardholder")
    with session_factory.begin() as session:
        session.add(PaymentMethod(org_id=org.id, provider_token="tok_x", brand="visa",
                                  last4="4242", exp_month=3, exp_year=2027))
    end = datetime(2027, 4, 1, tzinfo=UTC)  # valid through the end of March 2027
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, T0)  # 31 days left: nothing yet
        assert inbox.all() == []
        first = await run_sweep(client, queue, datetime(2027, 3, 25, tzinfo=UTC))
        second = await run_sweep(client, queue, end + timedelta(hours=1))
        await run_sweep(client, queue, end + timedelta(days=2))  # no second "expired" notice
    assert first.totals.cards_due == 1 and second.totals.cards_due == 1
    mails = inbox.all()
    assert [m.to for m in mails] == [(org.admin,), (org.admin,)]  # the admin only
    assert "visa ending 4242" in mails[0].body and "7-day reminder" in mails[0].body
    assert "valid through 03/2027" in mails[0].body
    assert "EXPIRED" in mails[1].body and "expired 1 hour ago" in mails[1].body
    with session_factory() as session:
        card = session.scalars(select(PaymentMethod)).one()
        rows = {r.window: r.status for r in session.scalars(
            select(Reminder).where(Reminder.subject_kind == "card"))}
    assert card.status == PaymentStatus.UNAVAILABLE
    assert rows == {"30d": "superseded", "7d": "sent", "1d": "superseded", "expired": "sent"}
    # a new card (the admin changed it) is a new subject: valid again, windows re-armed
    with session_factory.begin() as session:
        session.execute(update(PaymentMethod).values(exp_year=2030,
                                                     status=PaymentStatus.VALID))
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, end + timedelta(days=3))
    assert len(inbox.all()) == 2


async def test_poison_messages_fail_with_a_reason_and_the_good_ones_still_arrive(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    hooks = Hooks(secret=standard_webhooks.new_secret(), refuse_first=10**6, refuse_status=400)
    with webhook_receiver(hooks) as url:
        good = [make_org(session_factory, settings, name=f"Good {i}") for i in range(2)]
        # an org name with CR/LF (written before names were checked) would add a header
        evil = make_org(session_factory, settings,
                        stored_name="Evil\r\nBcc: spy@example.com")
        # an endpoint that answers 400 to our (correctly signed) call: no retry can help
        rejecting = make_org(session_factory, settings, webhook=(url, hooks.secret))
        refused = make_org(session_factory, settings)
        inbox.refuse.add(refused.admin)  # the mail server has no such mailbox: 550
        for org in (*good, evil, rejecting, refused):
            add_key(session_factory, org, T0 + 3 * DAY, creator=org.admin)
        client = time_skipping_env.client
        async with sweep_worker(client, settings, session_factory) as queue:
            result = await run_sweep(client, queue, T0)
    with session_factory() as session:
        rows = {(m.org_id, m.channel): m for m in session.scalars(select(OutboxMessage))}
    assert {key: (m.status, m.attempts) for key, m in rows.items()} == {
        (good[0].id, "email"): ("sent", 1), (good[1].id, "email"): ("sent", 1),
        (rejecting.id, "email"): ("sent", 1),
        (evil.id, "email"): ("failed", 1),
        (rejecting.id, "webhook"): ("failed", 1),
        (refused.id, "email"): ("failed", 1)}
    assert rows[(evil.id, "email")].last_error == "message cannot be encoded (ValueError)"
    assert rows[(rejecting.id, "webhook")].last_error == "webhook answered 400"
    assert rows[(refused.id, "email")].last_error == "SMTP recipient refused (550)"
    assert all(m.last_error is None for m in rows.values() if m.status == "sent")
    assert result.totals.messages_sent == 3 and result.totals.messages_failed == 3
    assert hooks.requests == 1  # refused once, never retried
    assert sorted(m.to[0] for m in inbox.all()) == sorted(
        [good[0].admin, good[1].admin, rejecting.admin])
    assert not any("spy@example.com" in m.to for m in inbox.all())
    # the failed rows do not come back: a later sweep has nothing to send
    async with sweep_worker(client, settings, session_factory) as queue:
        later = await run_sweep(client, queue, T0 + timedelta(minutes=5))
    assert later.totals.messages_sent == later.totals.messages_failed == 0
    assert len(inbox.all()) == 3
