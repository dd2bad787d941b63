"""The sweep's unused-key page against the real database, both engines: overlapping pages
revoke a key once, with one audit event and one ledger row, and a page is a no-op repeated.
Run in Temporal's ActivityEnvironment; the sweeps' threads share nothing but the database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.sweep import SweepClaimActivities
from contracts.sweep import PageInput, PageResult
from core.settings import Settings
from store.models import ApiKey, AuditEvent, Organization, Reminder
from tests.support.sweep_support import add_key, make_org

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _page(cursor: str = "", limit: int = 100) -> PageInput:
    return PageInput(sweep_id="s", now=T0, windows_days=[30, 7, 1], cursor=cursor, limit=limit)


def test_overlapping_pages_revoke_and_notice_each_key_once(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    orgs = [make_org(session_factory, settings) for _ in range(3)]
    keys: dict[str, str] = {}
    for n, org in enumerate(orgs):
        for idle in (40, 25, 3):  # revoke, notice, nothing
            key = add_key(session_factory, org, T0 + 300 * DAY, creator=org.admin)
            keys[f"{n}-{idle}"] = key
            with session_factory.begin() as session:
                session.execute(update(ApiKey).where(ApiKey.id == key).values(
                    created_at=T0 - 100 * DAY, last_used_at=T0 - idle * DAY))
        with session_factory.begin() as session:
            session.execute(update(Organization).where(Organization.id == org.id)
                            .values(revoke_unused_keys_after_days=30 if n < 2 else None))
    acts = SweepClaimActivities(session_factory)

    def whole_walk(limit: int) -> list[PageResult]:
        env, pages, cursor = ActivityEnvironment(), [], ""
        while True:
            page = env.run(acts.claim_unused_keys, _page(cursor, limit))
            pages.append(page)
            if page.done:
                return pages
            cursor = page.cursor

    with ThreadPoolExecutor(max_workers=4) as pool:
        walks = list(pool.map(whole_walk, [1, 1, 2, 100]))
    assert sum(p.revoked for w in walks for p in w) == 2
    # a notice raced by another page may be counted by both; the ledger keeps one (below)
    assert sum(p.noticed for w in walks for p in w) >= 2
    assert all(sum(p.due for p in w) <= 4 for w in walks)
    again = whole_walk(100)
    assert sum(p.revoked + p.noticed for p in again) == 0
    with session_factory() as session:
        revoked = set(session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_not(None))))
        audits = session.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "api_key.revoked"))
        ledger = sorted(session.execute(select(Reminder.subject_id, Reminder.window,
                                               Reminder.status)).all())
    assert revoked == {keys["0-40"], keys["1-40"]} and audits == 2
    assert ledger == sorted([(keys[f"{n}-40"], "unused_revoked", "pending") for n in (0, 1)]
                            + [(keys[f"{n}-40"], "unused", "superseded") for n in (0, 1)]
                            + [(keys[f"{n}-25"], "unused", "pending") for n in (0, 1)])
