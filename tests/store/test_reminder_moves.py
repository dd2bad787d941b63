"""`reminders.move_while`, both engines: it moves only rows still pending and says how many,
returns the work done beside the statement, and leaves the transaction whole when that work
fails (the statement finished, the rollback undoes it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store import reminders
from store.models import Reminder
from tests.support.sweep_support import make_org

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


class Boom(Exception):
    """The work beside the statement failing."""


def _ledger(sessions: sessionmaker[Session], settings: Settings) -> list[int]:
    """Three ledger rows of one org: two pending, the last already queued by another sweep."""
    org = make_org(sessions, settings)
    with sessions.begin() as session:
        reminders.claim(session, [
            dict(org_id=org.id, subject_kind=reminders.API_KEY, subject_id=f"k{i}", window="7d",
                 due_at=T0, status=status, message_key=key, created_at=T0, sent_at=None)
            for i, (status, key) in enumerate([(reminders.PENDING, None),
                                                (reminders.PENDING, None),
                                                (reminders.QUEUED, "kx:other")])])
        return list(session.scalars(select(Reminder.id).order_by(Reminder.id)))


def _rows(sessions: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [(r.status, r.message_key) for r in session.execute(
            select(Reminder.status, Reminder.message_key).order_by(Reminder.id))]


def test_only_pending_rows_move_and_the_count_says_so(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    first, second, taken = _ledger(session_factory, settings)
    with session_factory.begin() as session:
        moved, done = reminders.move_while(session, [
            reminders.Move(first, reminders.QUEUED, "kx:mine"),
            reminders.Move(second, reminders.VOID),
            reminders.Move(taken, reminders.QUEUED, "kx:mine")], lambda: "rendered")
    assert (moved, done) == (2, "rendered")  # 2 of 3: the caller sees the other sweep
    assert _rows(session_factory) == [(reminders.QUEUED, "kx:mine"), (reminders.VOID, None),
                                      (reminders.QUEUED, "kx:other")]


def test_nothing_to_move_still_runs_the_work(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        assert reminders.move_while(session, [], lambda: 7) == (0, 7)


def test_failing_work_leaves_the_rows_as_they_were(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    first, second, _ = _ledger(session_factory, settings)
    before = _rows(session_factory)

    def fail() -> None:
        raise Boom

    with pytest.raises(Boom), session_factory.begin() as session:
        reminders.move_while(session, [reminders.Move(first, reminders.QUEUED, "kx:mine"),
                                       reminders.Move(second, reminders.SUPERSEDED)], fail)
    assert _rows(session_factory) == before
    with session_factory.begin() as session:  # the connection went back to the pool usable
        moved, _ = reminders.move_while(
            session, [reminders.Move(first, reminders.SUPERSEDED)], lambda: None)
    assert moved == 1
