"""A sweep over 30,000 keys (times `LIFECYCLE_CHAOS_SCALE`) on PostgreSQL: the reminder count
equals an independent count, and continue-as-new splits the sweep into several runs.

Keys are loaded with COPY (a second or two); the sweep runs the real workflow with
continue-as-new on the time-skipping server and delivers the digests to a real SMTP server.
The measured wall time is printed (`pytest -s`) for the curious, never asserted: how fast a
sweep is belongs to `python -m bench.sweep`, which compares it with a baseline in the same run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

import store.models  # noqa: F401  (registers every table on the metadata)
from core.settings import Settings
from store.base import Base
from store.bulk import insert_keys
from store.db import make_engine, make_session_factory
from store.seeding import expiring_keys
from tests.chaos.support import SCALE
from tests.support.sweep_support import make_org, run_sweep, smtp_server, sweep_worker

KEYS = 30_000 * SCALE
ORGS = 40
PAGE_SIZE = 250
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)

DUE_SQL = """
SELECT count(*) FROM api_keys k JOIN organizations o ON o.id = k.org_id
WHERE o.status = 'active' AND k.revoked_at IS NULL AND k.expires_at <= :horizon
"""
MISSED_SQL = DUE_SQL.replace("count(*)", "k.id, k.expires_at") + """
AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.subject_kind = 'api_key' AND r.subject_id = k.id
                AND r.status IN ('queued', 'sent')) ORDER BY k.expires_at LIMIT 5
"""
ANNOUNCED_SQL = """
SELECT count(*) FROM reminders WHERE subject_kind = 'api_key' AND status IN ('queued', 'sent')
"""


@pytest.fixture
def pg(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_url)
    truncate = "TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(truncate))
    yield make_session_factory(engine)
    with engine.begin() as conn:
        conn.execute(text(truncate))
    engine.dispose()


def copy_keys(sessions: sessionmaker[Session], orgs: list[tuple[str, str]], count: int,
              rng: random.Random) -> None:
    """COPY `count` team keys spread over `orgs` (org id, creator id), expiring from 3 days
    ago to 90 days ahead; every 47th is revoked."""
    expiries = [NOW + timedelta(seconds=rng.randint(-3 * 86400, 90 * 86400))
                for _ in range(count)]
    with sessions.begin() as session:
        insert_keys(session, expiring_keys(orgs, count, expiries.__getitem__, created_at=NOW,
                                           revoked_every=47))


async def test_sweep_of_many_keys_announces_exactly_the_due_keys(
        time_skipping_env: WorkflowEnvironment, pg: sessionmaker[Session], postgres_url: str,
        tmp_path: Path) -> None:
    rng = random.Random(5)
    with smtp_server() as (inbox, port):
        cfg = Settings(database_url=postgres_url, data_dir=tmp_path, smtp_port=port)
        t0 = time.perf_counter()
        made = [make_org(pg, cfg) for _ in range(ORGS)]
        t1 = time.perf_counter()
        copy_keys(pg, [(o.id, o.member_ids[o.admin]) for o in made], KEYS, rng)
        print(f"\norgs {t1 - t0:.1f}s, COPY {time.perf_counter() - t1:.1f}s")
        with pg.begin() as session:  # one org frozen: its keys must not count
            session.execute(text("UPDATE organizations SET status = 'frozen' WHERE id = :id"),
                            {"id": made[0].id})
            session.execute(text("ANALYZE api_keys"))
            due = session.execute(text(DUE_SQL), {"horizon": NOW + timedelta(days=30)}).scalar()
        client = time_skipping_env.client
        async with sweep_worker(client, cfg, pg) as queue:
            started = time.perf_counter()
            result = await run_sweep(client, queue, NOW, page_size=PAGE_SIZE, pages_per_run=10)
            elapsed = time.perf_counter() - started
            t2 = time.perf_counter()
            again = await run_sweep(client, queue, NOW, page_size=PAGE_SIZE, pages_per_run=10)
            print(f"repeat sweep {time.perf_counter() - t2:.1f}s")
    with pg() as session:
        announced = session.execute(text(ANNOUNCED_SQL)).scalar()
        outbox = session.execute(text(
            "SELECT channel, status, count(*) FROM outbox GROUP BY 1, 2")).all()
        missed = session.execute(text(MISSED_SQL),
                                 {"horizon": NOW + timedelta(days=30)}).all()
    print(f"\nsweep over {KEYS:,} keys ({due:,} due, {result.runs} runs): {elapsed:.1f}s")
    assert due and 0.3 * KEYS < due < 0.4 * KEYS  # 33 of the 93 days of expiries
    assert result.totals.keys_due == due == announced, missed
    assert again.totals.reminders_queued == 0  # the repeat finds everything announced
    assert result.runs >= 4  # continue-as-new kept each run to 10 pages
    assert outbox == [("email", "sent", ORGS - 1)]
    assert len(inbox.unique()) == ORGS - 1  # one digest per recipient (the admin) per org
