"""Outbox messages delivered at once by their own workflow: real Temporal, both databases, a
real SMTP server and a real webhook receiver; no sweep runs in any of these tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from clients.outbox import start_deliveries, start_delivery
from clients.teardown import start_teardown
from contracts.outbox import (
    FAILED,
    SENT,
    OutboxDeliveryInput,
    OutboxDeliveryResult,
    outbox_delivery_workflow_id,
)
from contracts.teardown import IN_GRACE, CancelRequest
from core import standard_webhooks
from core.ports import free_port
from core.settings import Settings
from services.seeding import BARE_ORG, SeededOrg, seed_org
from services.teardown import recorded_input
from store import contacts
from store.models import OutboxMessage
from tests.support.sweep_support import (
    Hooks,
    Inbox,
    add_endpoint,
    local_webhooks,
    run_sweep,
    smtp_server,
    sweep_worker,
    webhook_receiver,
)
from tests.support.teardown_support import eventually, teardown_worker
from workflows.outbox import OutboxDeliveryWorkflow
from workflows.teardown import OrgTeardownWorkflow

REQUESTED = "Your organization is scheduled for deletion"


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    with smtp_server() as (inbox, port):
        yield inbox, local_webhooks(settings, smtp_port=port)


def _org(sessions: sessionmaker[Session], settings: Settings) -> SeededOrg:
    with sessions.begin() as session:
        return seed_org(session, BARE_ORG, settings.pepper_bytes)


def _notice(sessions: sessionmaker[Session], org_id: str) -> OutboxMessage | None:
    with sessions() as session:
        return session.scalars(select(OutboxMessage).where(
            OutboxMessage.org_id == org_id, OutboxMessage.subject == REQUESTED)).one_or_none()


def _queue(sessions: sessionmaker[Session], key: str, recipient: str, *,
           channel: str = "email", org_id: str | None = None) -> None:
    with sessions.begin() as session:
        session.add(OutboxMessage(idempotency_key=key, org_id=org_id, channel=channel,
                                  recipient=recipient, subject="Hello", body="Hello.\n"))


async def _result(env: WorkflowEnvironment, key: str) -> OutboxDeliveryResult:
    handle = env.client.get_workflow_handle_for(OutboxDeliveryWorkflow.run,
                                                outbox_delivery_workflow_id(key))
    return await handle.result()


async def _subjects(inbox: Inbox, count: int, timeout: float = 30.0) -> list[str]:
    """The subjects of the mails accepted so far, once there are at least `count`."""
    async def probe() -> list[str]:
        return [m.subject for m in inbox.all()]

    return await eventually(probe, lambda subjects: len(subjects) >= count, timeout=timeout)


async def test_a_teardowns_requested_notice_is_accepted_within_seconds_without_a_sweep(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    org = _org(session_factory, settings)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory,
                               deliver_at_once=True) as queue:
        loop = asyncio.get_running_loop()
        started = loop.time()
        handle = await start_teardown(client, settings, recorded_input(
            settings, org.org_id, f"member:{org.admin_member_id}", 3600), queue)
        # the deadline is the claim: accepted by the SMTP server within 5 s of the start
        assert await _subjects(inbox, 1, timeout=5.0) == [REQUESTED]
        assert loop.time() - started < 5.0
        assert inbox.all()[0].to == (org.admin_email,)
        progress = await handle.query(OrgTeardownWorkflow.progress)
        assert progress.status == IN_GRACE  # the teardown is still waiting out its grace
        row = _notice(session_factory, org.org_id)
        assert row is not None and (row.status, row.attempts) == ("sent", 1)
        (mail_,) = inbox.all()
        assert mail_.message_id == f"<{row.idempotency_key.replace(':', '.')}@localhost>"
        assert (await _result(time_skipping_env, row.idempotency_key)).status == SENT
        # the cancel's notice goes out the same way
        await handle.execute_update(OrgTeardownWorkflow.cancel, CancelRequest("member:x"))
        await handle.result()
        await _subjects(inbox, 2)
    assert [m.subject for m in inbox.all()] == [
        REQUESTED, "The deletion of your organization was cancelled"]


async def test_a_notice_waits_out_a_mail_server_outage_and_arrives_once(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    port = free_port()  # nothing listens here yet: the mail server is down
    settings = settings.model_copy(update={"smtp_port": port})
    org = _org(session_factory, settings)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory,
                               deliver_at_once=True) as queue:
        handle = await start_teardown(client, settings, recorded_input(
            settings, org.org_id, f"member:{org.admin_member_id}", 3600), queue)

        async def attempts() -> OutboxMessage | None:
            return _notice(session_factory, org.org_id)

        down = await eventually(attempts, lambda m: m is not None and m.attempts >= 2)
        assert down is not None and down.status == "pending"
        assert down.last_error == "receiver unavailable (ConnectionRefusedError)"
        with smtp_server(port) as (inbox, _):  # the server is back
            assert await _subjects(inbox, 1) == [REQUESTED]
            result = await _result(time_skipping_env, down.idempotency_key)
            row = _notice(session_factory, org.org_id)
            await handle.execute_update(OrgTeardownWorkflow.cancel, CancelRequest("member:x"))
            await handle.result()
            await _subjects(inbox, 2)
    assert result.status == SENT
    # once, although it was tried while the server was down; then the cancel's notice
    assert [(m.to, m.subject) for m in inbox.all()] == [
        ((org.admin_email,), REQUESTED),
        ((org.admin_email,), "The deletion of your organization was cancelled")]
    assert row is not None and row.status == "sent" and row.attempts >= 3
    assert row.last_error is None


async def test_poison_messages_fail_at_once_beside_good_ones(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    hooks = Hooks(secret=standard_webhooks.new_secret(), refuse_first=10**6, refuse_status=410)
    inbox.refuse.add("gone@example.com")
    org = _org(session_factory, settings)
    with webhook_receiver(hooks) as url:
        endpoint = add_endpoint(session_factory, settings, org.org_id, url, hooks.secret)
        keys = {
            "good": "t:good", "also-good": "t:also-good",
            "injected": "t:injected", "refused": "t:refused", "webhook": "t:webhook"}
        _queue(session_factory, keys["good"], "alice@example.com")
        _queue(session_factory, keys["injected"], "bob@example.com\r\nBcc: spy@example.com")
        _queue(session_factory, keys["refused"], "gone@example.com")
        _queue(session_factory, keys["webhook"], endpoint, channel="webhook", org_id=org.org_id)
        _queue(session_factory, keys["also-good"], "carol@example.com")
        client = time_skipping_env.client
        async with teardown_worker(client, settings, session_factory) as queue:
            await start_deliveries(client, queue, list(keys.values()))
            results = {name: (await _result(time_skipping_env, key)).status
                       for name, key in keys.items()}
    assert results == {"good": SENT, "also-good": SENT, "injected": FAILED,
                       "refused": FAILED, "webhook": FAILED}
    with session_factory() as session:
        rows = {m.idempotency_key: (m.status, m.attempts, m.last_error)
                for m in session.scalars(select(OutboxMessage))}
    assert rows == {
        keys["good"]: ("sent", 1, None), keys["also-good"]: ("sent", 1, None),
        keys["injected"]: ("failed", 1, "message cannot be encoded (ValueError)"),
        keys["refused"]: ("failed", 1, "SMTP recipient refused (550)"),
        keys["webhook"]: ("failed", 1, "webhook answered 410")}
    assert sorted(m.to for m in inbox.all()) == [("alice@example.com",),
                                                 ("carol@example.com",)]
    assert hooks.requests == 1


async def test_a_second_start_and_a_concurrent_sweep_send_a_message_once(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    keys = [f"t:race:{i}" for i in range(6)]
    for i, key in enumerate(keys):
        _queue(session_factory, key, f"reader{i}@example.com")
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue, \
            sweep_worker(client, settings, session_factory) as sweep_queue:
        with time_skipping_env.auto_time_skipping_disabled():
            handles = await asyncio.gather(
                *(start_delivery(client, queue, OutboxDeliveryInput(k)) for k in keys),
                *(start_delivery(client, queue, OutboxDeliveryInput(k)) for k in keys))
            sweep = await run_sweep(client, sweep_queue, datetime.now(UTC))
            results = [await h.result() for h in handles]
    # the second start of each key joined the first: one workflow run per message
    assert len({h.result_run_id for h in handles}) == len(keys)
    assert {r.status for r in results} <= {SENT, "skipped"}
    assert sweep.totals.messages_failed == 0
    assert sorted(m.to[0] for m in inbox.all()) == sorted(
        f"reader{i}@example.com" for i in range(6))  # raw count: nobody got one twice
    with session_factory() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


async def test_the_technical_and_security_contacts_hear_of_the_teardown(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    """Requested, a day before the grace window ends, completed: to the admin and to the
    technical and security contacts, the last one after their rows are gone; billing hears
    nothing of it."""
    inbox, settings = mail
    org = _org(session_factory, settings)
    with session_factory.begin() as session:
        for kind, address in (("technical", "ops@acme.example"),
                              ("security", "security@acme.example"),
                              ("billing", "billing@acme.example"),
                              ("security", org.admin_email)):  # the admin hears it once
            contacts.add_contact(session, org_id=org.org_id, kind=kind, email=address,
                                 added_by="key:olt_x")
    client = own_time_skipping_env.client
    async with teardown_worker(client, settings, session_factory,
                               deliver_at_once=True) as queue:
        handle = await start_teardown(client, settings, recorded_input(
            settings, org.org_id, f"member:{org.admin_member_id}", 2 * 86400), queue)
        await handle.result()
        await _subjects(inbox, 9)
    kinds = [REQUESTED, "Your organization will be deleted in less than a day",
             "Your organization has been deleted"]
    for address in (org.admin_email, "ops@acme.example", "security@acme.example"):
        assert sorted(m.subject for m in inbox.to(address)) == sorted(kinds), address
    assert inbox.to("billing@acme.example") == []
    assert len(inbox.unique()) == 9
    with session_factory() as session:
        assert contacts.list_contacts(session, org.org_id) == []
