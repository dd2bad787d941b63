"""Key-expiry sweeps on the real time-skipping Temporal server, both databases, real SMTP.

Time is controlled through the sweep's `now` input (what the schedule leaves to
`workflow.now()`), never by sleeping.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from store.models import ApiKey, OrgStatus, OutboxMessage, Reminder
from tests.support.sweep_support import (
    Inbox,
    add_key,
    make_org,
    run_sweep,
    set_org_status,
    smtp_server,
    sweep_worker,
)

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    with smtp_server() as (inbox, port):
        yield inbox, settings.model_copy(update={"smtp_port": port})


async def overlapping(env: WorkflowEnvironment, sweeps: list[Awaitable[object]]) -> None:
    """Run sweeps concurrently with automatic time skipping off.

    The test server skips ahead whenever the client waits on a result; with several sweeps
    in flight it jumps past workflow-task timeouts of the others. Sweeps need no timers
    (their clock is the `now` input), so real time is right here.
    """
    with env.auto_time_skipping_disabled():
        await asyncio.gather(*sweeps)


def ledger(sessions: sessionmaker[Session], subject_id: str) -> dict[tuple[str, datetime], str]:
    with sessions() as session:
        rows = session.scalars(select(Reminder).where(Reminder.subject_id == subject_id)).all()
    return {(r.window, r.due_at): r.status for r in rows}


def announced(sessions: sessionmaker[Session]) -> Counter[tuple[str, str, datetime]]:
    """(subject, window, due) of every reminder that was announced (not superseded/void)."""
    with sessions() as session:
        rows = session.execute(select(Reminder.subject_id, Reminder.window, Reminder.due_at)
                               .where(Reminder.status.in_(["queued", "sent"]))).all()
    return Counter(rows)


async def test_key_five_days_before_expiry_gets_7d_then_1d_then_expired(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    org = make_org(session_factory, settings, name="Acme")
    creator = org.others[0]  # reads mail in Asia/Taipei
    due = T0 + 5 * DAY
    key = add_key(session_factory, org, due, creator=creator, name="ci-deploy")
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        first = await run_sweep(client, queue, T0)
        assert ledger(session_factory, key) == {("30d", due): "superseded", ("7d", due): "sent"}
        assert first.totals.keys_due == 1 and first.totals.messages_sent == 2
        # the creator and the admin each get one digest; the other member gets nothing
        assert len(inbox.to(creator)) == 1 and len(inbox.to(org.admin)) == 1
        assert inbox.to(org.others[1]) == []
        body = inbox.to(creator)[0].body
        assert "ci-deploy" in body and "7-day reminder" in body
        assert "2027-03-06 12:00 UTC (2027-03-06 20:00 Asia/Taipei, UTC+08:00)" in body
        assert "in 5 days" in body
        assert "(2027-03-06 13:00 Europe/Berlin, UTC+01:00)" in inbox.to(org.admin)[0].body

        await run_sweep(client, queue, T0 + timedelta(hours=1))  # nothing new
        assert len(inbox.all()) == 2

        await run_sweep(client, queue, due - timedelta(hours=23))
        assert ledger(session_factory, key)[("1d", due)] == "sent"
        assert "in 23 hours" in inbox.to(creator)[-1].body

        await run_sweep(client, queue, due + timedelta(minutes=5))
        await run_sweep(client, queue, due + timedelta(hours=2))  # announced once only
    assert ledger(session_factory, key) == {("30d", due): "superseded", ("7d", due): "sent",
                                            ("1d", due): "sent", ("expired", due): "sent"}
    assert len(inbox.to(creator)) == 3 and len(inbox.to(org.admin)) == 3
    assert "EXPIRED" in inbox.to(creator)[-1].body
    with session_factory() as session:
        row = session.get_one(ApiKey, key)
    assert row.expired_marked_at == due + timedelta(minutes=5)


async def test_key_forty_days_out_gets_every_window_once_across_repeated_sweeps(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    org = make_org(session_factory, settings)
    due = T0 + 40 * DAY
    key = add_key(session_factory, org, due, creator=org.admin)
    client = time_skipping_env.client
    # (offset from T0, window expected to be announced by the sweeps at that moment)
    steps = [(0 * DAY, None), (9 * DAY, None), (10 * DAY + timedelta(hours=1), "30d"),
             (20 * DAY, None), (33 * DAY + timedelta(hours=1), "7d"), (35 * DAY, None),
             (39 * DAY + timedelta(hours=1), "1d"), (40 * DAY + timedelta(hours=1), "expired"),
             (41 * DAY, None)]
    async with sweep_worker(client, settings, session_factory) as queue:
        seen = 0
        for offset, window in steps:
            # two overlapping sweeps at the same moment, then a repeat
            await overlapping(time_skipping_env, [run_sweep(client, queue, T0 + offset),
                                                  run_sweep(client, queue, T0 + offset)])
            await run_sweep(client, queue, T0 + offset + timedelta(minutes=30))
            seen += window is not None
            assert len(inbox.to(org.admin)) == seen, (offset, window)
            if window:
                assert ledger(session_factory, key)[(window, due)] == "sent"
    assert announced(session_factory) == Counter(
        {(key, w, due): 1 for w in ("30d", "7d", "1d", "expired")})


async def test_extending_a_key_after_its_7d_reminder_rearms_the_windows(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    org = make_org(session_factory, settings)
    old_due = T0 + 6 * DAY
    key = add_key(session_factory, org, old_due, creator=org.admin)
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, T0)
        assert ledger(session_factory, key)[("7d", old_due)] == "sent"
        new_due = old_due + 30 * DAY
        with session_factory.begin() as session:
            session.execute(update(ApiKey).where(ApiKey.id == key).values(expires_at=new_due))
        await run_sweep(client, queue, T0 + DAY)  # 35 days left: nothing due
        assert len(inbox.all()) == 1
        await run_sweep(client, queue, T0 + 7 * DAY)  # 29 days left on the new expiry
        await run_sweep(client, queue, new_due - 2 * DAY)  # 2 days left
    rows = ledger(session_factory, key)
    assert rows[("30d", new_due)] == "sent" and rows[("7d", new_due)] == "sent"
    assert ("1d", old_due) not in rows  # the old expiry's remaining windows never fired
    assert len(inbox.to(org.admin)) == 3


async def test_overlapping_and_repeated_sweeps_announce_each_key_once_per_recipient(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    orgs = [make_org(session_factory, settings) for _ in range(3)]
    expected: Counter[tuple[str, str]] = Counter()  # (recipient, key name)
    for n, org in enumerate(orgs):
        for i in range(7):
            creator = org.others[i % 2] if i % 3 else None  # some creators have left
            name = f"k{n}-{i}"
            add_key(session_factory, org, T0 + (i + 1) * DAY, creator=creator, name=name,
                    project=i % 2 == 1)
            for person in {org.admin, *([creator] if creator else [])}:
                expected[(person, name)] += 1
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        # page size 2: many pages and continued runs, interleaved between the three sweeps
        await overlapping(time_skipping_env, [
            run_sweep(client, queue, T0, page_size=2, pages_per_run=3, compose_page_size=1,
                      deliver_page_size=2) for _ in range(3)])
        await run_sweep(client, queue, T0 + timedelta(minutes=1), page_size=2)
    got: Counter[tuple[str, str]] = Counter()
    for m in inbox.all():
        for person in m.to:
            for name in {f"k{n}-{i}" for n in range(3) for i in range(7)}:
                got[(person, name)] += f'"{name}"' in m.body
    assert +got == expected
    assert len(inbox.all()) == len(inbox.unique())  # nothing was sent twice
    assert set(announced(session_factory).values()) == {1}


async def test_keys_of_frozen_and_deleting_orgs_are_skipped(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    live, frozen, deleting = (make_org(session_factory, settings) for _ in range(3))
    for org in (live, frozen, deleting):
        add_key(session_factory, org, T0 + 2 * DAY, creator=org.admin)
        add_key(session_factory, org, T0 - DAY, creator=org.admin)  # already expired
    set_org_status(session_factory, frozen, OrgStatus.FROZEN)
    set_org_status(session_factory, deleting, OrgStatus.DELETING)
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        result = await run_sweep(client, queue, T0)
    assert result.totals.keys_due == 2
    assert [m.to for m in inbox.all()] == [(live.admin,)]
    with session_factory() as session:
        orgs = set(session.scalars(select(Reminder.org_id)))
        marked = session.scalars(select(ApiKey.org_id)
                                 .where(ApiKey.expired_marked_at.is_not(None))).all()
    assert orgs == {live.id} and marked == [live.id]


async def test_outbox_rows_and_ledger_agree_after_a_sweep(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    org = make_org(session_factory, settings)
    for i in range(3):
        add_key(session_factory, org, T0 + (i * 10 + 1) * DAY, creator=org.others[0])
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, T0)
    with session_factory() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
        batches = set(session.scalars(select(Reminder.message_key)
                                      .where(Reminder.status == "sent")))
    # one digest per recipient listing all three keys (1d, 7d... windows differ per key)
    assert sorted(m.recipient for m in outbox) == sorted([org.admin, org.others[0]])
    assert {m.status for m in outbox} == {"sent"} and len(batches) == 1
    (batch,) = batches
    assert batch is not None
    assert all(m.idempotency_key.startswith(batch + ":email:") for m in outbox)
    assert all(m.body.count("- key ") == 3 for m in outbox)
    assert len(inbox.unique()) == 2
