"""SIGKILL the worker process mid-purge; a new worker finishes the teardown with exact counts.

Real parts only: the Temporal dev server binary, PostgreSQL, and `lifecycle worker` as a child
process that is killed without warning (no graceful shutdown, no heartbeat flush).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from clients.teardown import start_teardown
from contracts.teardown import COMPLETED
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from services.teardown import recorded_input
from store.models import Dataset, DatasetRecord, DeletionCertificate
from store.plan import owned_counts
from tests.chaos.support import WorkerProcess
from tests.support.teardown_support import eventually

SHAPE = OrgShape(projects=6, datasets_per_project=2, records_per_dataset=3_000)


async def test_worker_killed_mid_purge_then_replaced(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    with pg_sessions.begin() as session:
        target = seed_org(session, SHAPE, settings.pepper_bytes)
        neighbour = seed_org(session, OrgShape(projects=2, records_per_dataset=50),
                             settings.pepper_bytes)
    total = target.counts["dataset_records"]
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    address = local_temporal.client.service_client.config.target_host
    inp = replace(recorded_input(settings, target.org_id, "member:admin", 0), batch_size=100,
                  purge_concurrency=1, heartbeat_timeout_seconds=2, step_timeout_seconds=10)

    def remaining() -> int:
        with pg_sessions() as session:
            return int(session.scalar(
                select(func.count()).select_from(DatasetRecord).join(Dataset)
                .where(Dataset.org_id == target.org_id)) or 0)

    async def probe() -> int:
        return remaining()

    worker = WorkerProcess(postgres_url, address, queue, tmp_path)
    worker.start()
    try:
        handle = await start_teardown(local_temporal.client, settings, inp, queue)
        await eventually(probe, lambda n: n < total * 0.7, timeout=60)
        worker.kill()
        left_at_kill = remaining()
        assert 0 < left_at_kill < total
        worker.start()
        result = await handle.result()
    finally:
        worker.stop()
    assert result.status == COMPLETED
    with pg_sessions() as session:
        assert set(owned_counts(session, target.org_id).values()) == {0}
        assert owned_counts(session, neighbour.org_id) == neighbour.counts
        cert = session.scalars(select(DeletionCertificate)
                               .where(DeletionCertificate.org_id == target.org_id)).one()
    assert cert.counts == target.counts
    print(f"killed with {left_at_kill} of {total} records left; certificate counts exact")
