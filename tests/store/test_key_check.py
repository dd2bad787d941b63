"""The key check reads a key and every state it depends on in one statement, fresh each time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store import apikeys, auth_failures
from store.base import utcnow
from store.models import KeyScope, Member, MemberStatus, OrgStatus, Project, ProjectStatus, Role
from tests.support.api_support import seed_with_keys, set_status


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _check(sessions: sessionmaker[Session], secret: str) -> apikeys.KeyCheck:
    with sessions() as session:
        found = apikeys.key_check(session, secret[:12])
        assert found is not None
        return found


def test_one_statement_answers_every_question(engine: Engine,
                                              session_factory: sessionmaker[Session],
                                              settings: Settings) -> None:
    keys = seed_with_keys(session_factory, settings)
    with statements(engine) as seen, session_factory() as session:
        found = apikeys.key_check(session, keys.project[:12])
    assert len(seen) == 1
    assert found is not None and found.key.scope is KeyScope.PROJECT
    assert found.org_status is OrgStatus.ACTIVE
    assert found.project_status is ProjectStatus.ACTIVE
    with session_factory() as session:
        assert apikeys.key_check(session, "olk_t_nokey0") is None


def test_states_are_read_fresh(session_factory: sessionmaker[Session],
                               settings: Settings) -> None:
    keys = seed_with_keys(session_factory, settings)
    member = _check(session_factory, keys.member)
    assert apikeys.creator_role(member) is Role.MEMBER
    with session_factory.begin() as session:
        session.execute(update(Member).where(Member.id == keys.member_id)
                        .values(status=MemberStatus.REMOVING))
    try:
        apikeys.creator_role(_check(session_factory, keys.member))
    except apikeys.CreatorGone:
        pass
    else:
        raise AssertionError("a removing member's key still acts for them")
    set_status(session_factory, keys.org.org_id, OrgStatus.FROZEN)
    assert _check(session_factory, keys.admin).org_status is OrgStatus.FROZEN
    with session_factory.begin() as session:
        session.execute(update(Project).where(Project.id == keys.org.project_ids[0])
                        .values(status=ProjectStatus.DELETING))
    assert _check(session_factory, keys.project).project_status is ProjectStatus.DELETING



def test_throttle_counts_ride_along_for_known_and_unknown_prefixes(
        engine: Engine, session_factory: sessionmaker[Session], settings: Settings) -> None:
    """The failed-authentication counts come back in the key check's one statement, and the
    same for a prefix nobody holds: the throttle answers before the key and is no oracle."""
    keys = seed_with_keys(session_factory, settings)
    now = utcnow()
    with session_factory.begin() as session:
        auth_failures.record_failure(session, ["b" * 64], now, timedelta(minutes=5))
        auth_failures.record_failure(session, ["b" * 64], now, timedelta(minutes=5))
    names = ["b" * 64, "c" * 64]
    columns = auth_failures.window_columns(names, now - timedelta(minutes=5))
    for prefix, known in ((keys.admin[:12], True), ("olk_t_nokey0", False)):
        with statements(engine) as seen, session_factory() as session:
            lookup = apikeys.key_lookup(session, prefix, columns)
        assert len(seen) == 1
        assert (lookup.check is not None) is known
        counts = auth_failures.read_columns(names, lookup.also)
        assert counts["b" * 64][0] == 2 and counts["b" * 64][1] is not None
        assert counts["c" * 64] == (0, None)
