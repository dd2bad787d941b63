"""Kill, restart and race the engine during teardowns; nothing is lost, nothing is left behind.

Each test prints what it injected so docs/reliability.md can quote real runs. Waiting between
injections uses a seeded RNG for *when* to strike (the fault), while every assertion waits on a
condition with a deadline (never a sleep standing in for synchronisation).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Unpack

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from clients.teardown import start_teardown
from contracts.teardown import COMPLETED, CancelRequest, TeardownInput
from core.settings import Settings
from core.temporal import wait_until_serving
from services.seeding import OrgShape, SeededOrg, seed_org
from services.teardown import recorded_input
from store.db import make_engine
from store.models import Dataset, DatasetRecord, DeletionCertificate
from store.plan import owned_counts
from tests.chaos.support import SCALE, DevServer, WorkerProcess
from tests.support.teardown_support import TeardownKnobs, eventually, teardown_worker
from workflows.teardown import OrgTeardownWorkflow

FAST: TeardownKnobs = {"heartbeat_timeout_seconds": 2, "step_timeout_seconds": 10}


def _records_left(sessions: sessionmaker[Session], org_id: str) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DatasetRecord)
                                  .join(Dataset).where(Dataset.org_id == org_id)) or 0)


def _assert_done(sessions: sessionmaker[Session], org: SeededOrg, neighbour: SeededOrg) -> None:
    with sessions() as session:
        assert set(owned_counts(session, org.org_id).values()) == {0}
        assert owned_counts(session, neighbour.org_id) == neighbour.counts
        cert = session.scalars(select(DeletionCertificate)
                               .where(DeletionCertificate.org_id == org.org_id)).one()
    assert cert.counts == org.counts, "certificate counts differ from what was seeded"


def _inp(settings: Settings, org: SeededOrg, **kw: Unpack[TeardownKnobs]) -> TeardownInput:
    base = recorded_input(settings, org.org_id, "member:chaos", 0)
    knobs: TeardownKnobs = {"batch_size": 200, "purge_concurrency": 2, **FAST, **kw}
    return replace(base, **knobs)


async def test_worker_sigkilled_at_random_points(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    teardowns, kills = 3 * SCALE, 3 * SCALE
    print(f"chaos seed={seed} teardowns={teardowns} kills={kills}")
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    shape = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=1_500)
    with pg_sessions.begin() as session:
        orgs = [seed_org(session, shape, settings.pepper_bytes, rng=rng)
                for _ in range(teardowns)]
        neighbour = seed_org(session, shape, settings.pepper_bytes, rng=rng)
    worker = WorkerProcess(postgres_url, local_temporal.client.service_client.config.target_host,
                           f"chaos-{uuid.uuid4().hex[:8]}", tmp_path)
    worker.start()
    try:
        handles = [await start_teardown(local_temporal.client, settings, _inp(settings, org),
                                        worker.task_queue) for org in orgs]
        results = asyncio.gather(*(h.result() for h in handles))
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.3, 2.5))  # the fault's timing, not a wait
            worker.kill()
            worker.start()
        done = await asyncio.wait_for(results, timeout=240)
    finally:
        worker.stop()
    assert [r.status for r in done] == [COMPLETED] * teardowns
    for org in orgs:
        _assert_done(pg_sessions, org, neighbour)
    print(f"chaos seed={seed}: {worker.kills} SIGKILLs, {teardowns} teardowns exact")


async def test_temporal_restarted_mid_teardown(pg_sessions: sessionmaker[Session],
                                               postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    shape = OrgShape(projects=4, datasets_per_project=2, records_per_dataset=3_000)
    with pg_sessions.begin() as session:
        org = seed_org(session, shape, settings.pepper_bytes)
        neighbour = seed_org(session, OrgShape(projects=1), settings.pepper_bytes)
    server = DevServer(tmp_path / "temporal.db")
    server.start()
    worker = WorkerProcess(postgres_url, server.address, "restart-queue", tmp_path)
    try:
        client = await wait_until_serving(server.address, "default", deadline_s=60)
        worker.start()
        handle = await start_teardown(client, settings,
                                      _inp(settings, org, batch_size=100, purge_concurrency=1),
                                      worker.task_queue)
        total = org.counts["dataset_records"]
        await eventually(lambda: asyncio.to_thread(_records_left, pg_sessions, org.org_id),
                         lambda n: n < total * 0.8, timeout=60)
        server.stop()
        left = _records_left(pg_sessions, org.org_id)
        server.start()
        client = await wait_until_serving(server.address, "default", deadline_s=60)
        result = await asyncio.wait_for(
            client.get_workflow_handle_for(OrgTeardownWorkflow.run, handle.id).result(), 180)
    finally:
        worker.stop()
        server.stop()
    assert 0 < left < total
    assert result.status == COMPLETED
    _assert_done(pg_sessions, org, neighbour)
    print(f"Temporal restarted with {left}/{total} records left; teardown finished exactly")


async def test_database_connections_dropped_mid_purge(
        time_skipping_env: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    """`pg_terminate_backend` on every connection of the test database, several times."""
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    shape = OrgShape(projects=4, datasets_per_project=2, records_per_dataset=4_000)
    with pg_sessions.begin() as session:
        org = seed_org(session, shape, settings.pepper_bytes)
        neighbour = seed_org(session, OrgShape(projects=1), settings.pepper_bytes)
    admin = make_engine(postgres_url.rsplit("/", 1)[0] + "/postgres",
                        isolation_level="AUTOCOMMIT")
    db_name = postgres_url.rsplit("/", 1)[1]
    total = org.counts["dataset_records"]
    dropped = 0
    client: Client = time_skipping_env.client
    async with teardown_worker(client, settings, pg_sessions) as queue:
        handle = await start_teardown(client, settings,
                                      _inp(settings, org, batch_size=100, purge_concurrency=1),
                                      queue)
        result_task = asyncio.ensure_future(handle.result())
        for threshold in (0.9, 0.6, 0.3):
            def below(n: int, t: float = threshold) -> bool:
                return n < total * t or result_task.done()

            await eventually(lambda: asyncio.to_thread(_records_left, pg_sessions, org.org_id),
                             below, timeout=60)
            with admin.connect() as conn:
                dropped += int(conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": db_name})
                    .scalar_one())
        started = time.monotonic()
        result = await asyncio.wait_for(result_task, 120)
    admin.dispose()
    assert dropped > 0
    assert result.status == COMPLETED
    _assert_done(pg_sessions, org, neighbour)
    print(f"dropped {dropped} connections in 3 waves; finished {time.monotonic() - started:.1f}s"
          " after the last")


async def test_hundred_concurrent_starts_make_one_teardown(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, OrgShape(projects=1), settings.pepper_bytes)
    client = time_skipping_env.client
    inp = replace(recorded_input(settings, org.org_id, "member:x", 3600))
    async with teardown_worker(client, settings, session_factory) as queue:
        outcomes = await asyncio.gather(
            *(start_teardown(client, settings, inp, queue) for _ in range(100)),
            return_exceptions=True)
        started = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, WorkflowAlreadyStartedError)]
        assert len(started) == 1 and len(refused) == 99
        assert {r.run_id for r in refused} == {started[0].result_run_id}
        await started[0].execute_update(OrgTeardownWorkflow.cancel, CancelRequest("member:x"))
        await started[0].result()
