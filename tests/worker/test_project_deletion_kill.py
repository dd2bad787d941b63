"""SIGKILL the worker process mid-purge of a project deletion; a new worker finishes it with
exact counts.

Real parts only: the Temporal dev server binary, PostgreSQL, and `lifecycle worker` as a child
process that is killed without warning (no graceful shutdown, no heartbeat flush).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from contracts.project_deletion import COMPLETED
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store import project_deletions
from store.models import Dataset, DatasetRecord, ProjectDeletionCertificate
from store.plan import owned_counts
from tests.chaos.support import WorkerProcess
from tests.support.deletion_support import project_counts, request, start
from tests.support.teardown_support import eventually

SHAPE = OrgShape(projects=2, datasets_per_project=3, records_per_dataset=6_000)


async def test_worker_killed_mid_purge_of_a_project_then_replaced(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    with pg_sessions.begin() as session:
        target = seed_org(session, SHAPE, settings.pepper_bytes)
    project_id, kept = target.project_ids
    total = SHAPE.datasets_per_project * SHAPE.records_per_dataset
    request_id = request(pg_sessions, target, project_id)
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    address = local_temporal.client.service_client.config.target_host

    def remaining() -> int:
        with pg_sessions() as session:
            return int(session.scalar(
                select(func.count()).select_from(DatasetRecord).join(Dataset)
                .where(Dataset.project_id == project_id)) or 0)

    async def probe() -> int:
        return remaining()

    worker = WorkerProcess(postgres_url, address, queue, tmp_path)
    worker.start()
    try:
        handle = await start(local_temporal.client, settings, queue, target.org_id,
                             project_id, request_id, batch_size=100,
                             heartbeat_timeout_seconds=2, step_timeout_seconds=10)
        await eventually(probe, lambda n: n < total * 0.7, timeout=60)
        worker.kill()
        left_at_kill = remaining()
        assert 0 < left_at_kill < total
        worker.start()
        result = await handle.result()
    finally:
        worker.stop()
    expected = project_counts(SHAPE)
    assert result.status == COMPLETED and result.deleted == expected
    with pg_sessions() as session:
        assert set(project_deletions.project_rows(session, project_id).values()) == {0}
        cert = session.scalars(select(ProjectDeletionCertificate)
                               .where(ProjectDeletionCertificate.request_id == request_id)).one()
        left = owned_counts(session, target.org_id)
        kept_records = session.scalar(select(func.count()).select_from(DatasetRecord)
                                      .join(Dataset).where(Dataset.project_id == kept))
    assert cert.counts == expected
    assert left == {t: n - expected.get(t, 0) for t, n in target.counts.items()}
    assert kept_records == total  # the other project of the org was never touched
    print(f"killed with {left_at_kill} of {total} records left; certificate counts exact")
