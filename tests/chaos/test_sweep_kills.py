"""Reminders exactly once, under SIGKILL: a sweep whose worker dies again and again loses no
reminder and announces none twice.

A real `lifecycle worker` process runs the sweep on the real dev server and mails a real SMTP
server (aiosmtpd); the test SIGKILLs it at random points (seeded RNG, seed printed) and starts a
new one each time, until the sweep completes. What is owed comes from `sweep_oracle` (keys
seeded into known windows), not from the product's own window logic.

The one duplicate the design allows is a resend with the same Message-ID (a kill after the SMTP
server accepted a message and before it was marked sent: docs/sweep.md, "Delivery guarantee"),
so mail is counted in distinct Message-IDs per (recipient, key): exactly one each. Webhook
events likewise: every org has an endpoint on a real receiver that verifies each delivery with
the reference `standardwebhooks` package, and it must end with exactly one `webhook-id` per
(key, window) owed, and nothing for the frozen org.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts.sweep import SweepInput, SweepResult
from core import standard_webhooks
from core.settings import Settings
from store.models import ApiKey, OutboxMessage, Reminder
from tests.chaos.support import SCALE, WorkerProcess
from tests.chaos.sweep_oracle import EXPIRED, WINDOWS_DAYS, SeededKey, announcements, seed
from tests.support.sweep_support import (
    Hooks,
    Inbox,
    add_endpoint,
    smtp_server,
    webhook_receiver,
)
from tests.support.teardown_support import eventually
from workflows.sweep import KeyExpirySweepWorkflow

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


class SweepPaging(TypedDict):
    """The paging and timeout fields of `SweepInput` this test sets, typed for `**PAGES`."""

    page_size: int
    pages_per_run: int
    compose_page_size: int
    deliver_page_size: int
    heartbeat_timeout_seconds: int
    page_timeout_seconds: int


# Small pages make many activities, so kills land in every phase; short timeouts make Temporal
# retry a dead worker's page within seconds; few pages per run exercise continue-as-new.
PAGES: SweepPaging = {"page_size": 3, "pages_per_run": 8, "compose_page_size": 1,
                      "deliver_page_size": 1, "heartbeat_timeout_seconds": 2,
                      "page_timeout_seconds": 10}
ORDER = ("start", "claim", "compose", "deliver")
TARGETS = ORDER[1:]


@dataclass(frozen=True)
class Progress:
    """What the sweep has visibly done so far: a change means a live worker is at work."""

    ledger: int
    outbox: int
    sent: int
    mails: int

    @property
    def phase(self) -> str:
        if self.sent or self.mails:
            return "deliver"
        return "compose" if self.outbox else ("claim" if self.ledger else "start")


def _progress(sessions: sessionmaker[Session], inbox: Inbox) -> Progress:
    with sessions() as session:
        ledger = session.scalar(select(func.count()).select_from(Reminder)) or 0
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        sent = session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == "sent")) or 0
    return Progress(ledger, outbox, sent, len(inbox.all()))


async def _kill_until_done(handle: WorkflowHandle[Any, SweepResult], worker: WorkerProcess,
                           rng: random.Random, kills: int,
                           probe: Callable[[], Awaitable[Progress]]
                           ) -> tuple[SweepResult, list[str]]:
    """SIGKILL the worker `kills` times and start a new one after each; returns the result and
    the phase each kill hit.

    The kills are shared out over the phases in order (claim, compose, deliver): each waits
    until the current worker has visibly made progress in its target phase or a later one, then
    strikes after a random delay. Progress first, because a worker killed while it is still
    importing tests nothing; targets, because the phases differ in what a crash can break
    (a claim page's transaction, a digest's, a message sent but not yet marked).
    """
    result = asyncio.ensure_future(handle.result())
    phases: list[str] = []
    for i in range(kills):
        target = ORDER.index(TARGETS[i * len(TARGETS) // kills])
        before = await probe()

        def moved_on(p: Progress, b: Progress = before, t: int = target) -> bool:
            return result.done() or (p != b and ORDER.index(p.phase) >= t)

        await eventually(probe, moved_on, timeout=90)
        await asyncio.sleep(rng.uniform(0.0, 0.5))  # the fault's timing, not a wait
        if result.done():
            break
        phases.append((await probe()).phase)
        worker.kill()
        worker.start()
    return await asyncio.wait_for(result, timeout=180), phases


def _ledger(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as session:
        return sorted((r.subject_id, r.window, r.status) for r in session.execute(
            select(Reminder.subject_id, Reminder.window, Reminder.status)))


def _assert_owed_exactly(sessions: sessionmaker[Session], inbox: Inbox,
                         active: list[SeededKey], frozen: list[SeededKey]) -> None:
    owed = sorted((key_id, window, status) for k in active
                  for (key_id, window), status in k.ledger().items())
    assert _ledger(sessions) == owed, "ledger rows differ from what was due"
    with sessions() as session:
        marked = {k: at for k, at in session.execute(select(ApiKey.id, ApiKey.expired_marked_at))}
        outbox = session.execute(select(OutboxMessage.channel, OutboxMessage.status)).all()
    for key in active + frozen:
        assert marked[key.id] == (T0 if key.window == EXPIRED else None), key
    assert outbox and {status for _, status in outbox} == {"sent"}
    seen = announcements(inbox.all())
    expected = {(to, k.name): k.window for k in active if k.window for to in k.recipients}
    assert set(seen) - set(expected) == set(), "announced to someone not owed it"
    assert set(expected) - set(seen) == set(), "a due reminder was never received"
    for pair, window in expected.items():
        assert {mid for mid, _ in seen[pair]} and len({mid for mid, _ in seen[pair]}) == 1, pair
        assert {w for _, w in seen[pair]} == {window}, pair
    assert len(inbox.unique()) == sum(1 for channel, _ in outbox if channel == "email")


def _assert_events_exactly_once(hooks: Hooks, active: list[SeededKey]) -> None:
    """One event per (key, window) owed, by distinct `webhook-id`; resends share the id."""
    assert hooks.bad_signatures == 0
    events = [(e["data"]["key_id"], e["data"]["window"], e["type"])
              for e in hooks.unique().values()]
    owed = sorted((k.id, k.window, "api_key.expired" if k.window == EXPIRED
                   else "api_key.expiring") for k in active if k.window)
    assert sorted(events) == owed, "webhook events differ from the reminders owed"


async def _sweep(client: Client, queue: str, now: datetime) -> WorkflowHandle[Any, SweepResult]:
    return await client.start_workflow(
        KeyExpirySweepWorkflow.run, SweepInput(now=now, windows_days=WINDOWS_DAYS, **PAGES),
        id=f"chaos-sweep-{uuid.uuid4().hex[:8]}", task_queue=queue)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_sweep_worker_sigkilled_at_random_points(
        local_temporal: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings, db_url: str, tmp_path: Path) -> None:
    seed_value = random.randrange(1_000_000)
    rng = random.Random(seed_value)
    orgs, kills = 4 * SCALE, 3 * SCALE
    active, frozen = seed(session_factory, settings, rng, T0, orgs, keys_per_org=12)
    print(f"sweep chaos seed={seed_value} orgs={orgs} keys={len(active)} kills={kills}")
    client = local_temporal.client
    hooks = Hooks(secret=standard_webhooks.new_secret())
    with smtp_server() as (inbox, port), webhook_receiver(hooks) as url:
        for org_id in sorted({k.org_id for k in active + frozen}):
            add_endpoint(session_factory, settings, org_id, url, hooks.secret)
        worker = WorkerProcess(db_url, client.service_client.config.target_host,
                               f"chaos-sweep-{uuid.uuid4().hex[:8]}", tmp_path,
                               env={"LIFECYCLE_SMTP_PORT": str(port),
                                    "LIFECYCLE_SWEEP_SCHEDULE_ENABLED": "false",
                                    "LIFECYCLE_WEBHOOK_ALLOW_HTTP": "true",
                                    "LIFECYCLE_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'})
        worker.start()
        try:
            handle = await _sweep(client, worker.task_queue, T0)
            first, phases = await _kill_until_done(
                handle, worker, rng, kills,
                lambda: asyncio.to_thread(_progress, session_factory, inbox))
            received, ledger = len(inbox.all()), _ledger(session_factory)
            # a later sweep (ten minutes on: no key changes window) owes nothing new
            second = await (await _sweep(client, worker.task_queue, T0 + timedelta(minutes=10))
                            ).result()
        finally:
            worker.stop()
    assert phases, "the sweep finished before any worker was killed"
    _assert_owed_exactly(session_factory, inbox, active, frozen)
    _assert_events_exactly_once(hooks, active)
    assert (second.totals.reminders_queued, second.totals.messages_queued) == (0, 0)
    assert len(inbox.all()) == received and _ledger(session_factory) == ledger
    print(f"sweep chaos seed={seed_value}: {len(phases)} SIGKILLs in phases {phases}; "
          f"{first.runs} runs; {first.totals.reminders_queued} reminders in "
          f"{len(inbox.unique())} mails, {received - len(inbox.unique())} resent with the "
          f"same Message-ID; {len(hooks.unique())} events, "
          f"{len(hooks.delivery_ids) - len(hooks.unique())} resent with the same webhook-id; "
          "second sweep sent nothing")
