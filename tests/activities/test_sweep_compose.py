"""The sweep's compose page against the real database, both engines: a page is one transaction,
so a crash after its reminders moved and before its digests were written leaves the page as it
was, and the retry writes each digest exactly once. Run in Temporal's ActivityEnvironment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.digests import DigestActivities
from activities.sweep import SweepClaimActivities
from contracts.sweep import PageInput, PageResult
from core.settings import Settings
from store import outbox, reminders
from store.models import OutboxMessage, Reminder
from tests.support.sweep_support import add_key, make_org

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Crash(Exception):
    """The process dying between the page's statements."""


def _page(cursor: str = "", limit: int = 100) -> PageInput:
    return PageInput(sweep_id="s", now=T0, windows_days=[30, 7, 1], cursor=cursor, limit=limit)


def _walk(env: ActivityEnvironment, run: Any, limit: int) -> list[PageResult]:
    pages, cursor = [], ""
    while True:
        page: PageResult = env.run(run, _page(cursor, limit))
        pages.append(page)
        if page.done:
            return pages
        cursor = page.cursor


def _counts(sessions: sessionmaker[Session]) -> tuple[dict[str, int], int, int]:
    with sessions() as session:
        statuses = {status: n for status, n in session.execute(
            select(Reminder.status, func.count()).group_by(Reminder.status))}
        mails = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        keys = session.scalar(select(func.count(func.distinct(OutboxMessage.idempotency_key))))
    return statuses, mails, keys or 0


def test_a_crash_between_the_page_statements_neither_loses_nor_doubles_a_digest(
        session_factory: sessionmaker[Session], settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    orgs = [make_org(session_factory, settings) for _ in range(3)]
    for org in orgs:
        add_key(session_factory, org, T0 + 5 * DAY, creator=org.admin)  # 7d, supersedes 30d
        add_key(session_factory, org, T0 - DAY, creator=org.others[0])  # expired
    env = ActivityEnvironment()
    _walk(env, SweepClaimActivities(session_factory).claim_keys, 100)
    before, _, _ = _counts(session_factory)
    assert before.get(reminders.PENDING) == 6

    real = outbox.queue_many
    calls = {"n": 0}

    def crash_after_the_move(session: Session, rows: Sequence[dict[str, Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the reminders' move statement has run in this transaction
            raise Crash
        real(session, rows)

    monkeypatch.setattr(outbox, "queue_many", crash_after_the_move)
    compose = DigestActivities(session_factory).compose
    with pytest.raises(Crash):
        env.run(compose, _page(limit=2))
    assert _counts(session_factory) == (before, 0, 0), "a crashed page must leave no trace"

    pages = _walk(env, compose, 2)  # the retry, then the rest of the walk
    statuses, mails, distinct = _counts(session_factory)
    assert sum(p.queued_reminders for p in pages) == 6
    assert statuses.get(reminders.QUEUED) == 6 and reminders.PENDING not in statuses
    # admin + the expired key's creator in each org: two digests per org, once each
    assert mails == distinct == 6
    assert sum(p.queued_messages for p in pages) == 6

    again = _walk(env, compose, 100)
    assert sum(p.queued_reminders + p.queued_messages for p in again) == 0
    assert _counts(session_factory) == (statuses, 6, 6)
