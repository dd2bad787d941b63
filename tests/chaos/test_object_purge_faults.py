"""Faults during the object purge, with real parts only: the Temporal dev server, PostgreSQL,
SeaweedFS's S3 gateway, and (for the kill) `lifecycle worker` as a child process.

- the worker SIGKILLed mid-purge, a new one started: every object goes, the certificate counts
  exactly what existed at the freeze (objects and bytes), the neighbour's files untouched;
- the object store stopped mid-purge: uploads answer 503 with Retry-After meanwhile, the purge
  activity retries, and once the store is back the teardown finishes with exact counts.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from clients.teardown import start_teardown
from contracts.teardown import COMPLETED, TeardownInput
from core import seaweed
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from services.teardown import recorded_input
from store.models import Dataset, DeletionCertificate
from store.objects import ObjectStore, configured_store
from store.plan import owned_counts
from tests.chaos.support import WorkerProcess
from tests.support.api_support import api_client, api_settings, bearer, problem
from tests.support.files_support import PutFiles, objects_of, put_files
from tests.support.teardown_support import eventually, teardown_worker

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=20)


def _seed(sessions: sessionmaker[Session], settings: Settings, store: ObjectStore,
          per_dataset: int) -> tuple[SeededOrg, SeededOrg, PutFiles]:
    with sessions.begin() as session:
        target = seed_org(session, SHAPE, settings.pepper_bytes)
        neighbour = seed_org(session, OrgShape(projects=1, records_per_dataset=5),
                             settings.pepper_bytes)
    files = put_files(store, sessions, target.org_id, per_dataset)
    put_files(store, sessions, neighbour.org_id, 4)
    return target, neighbour, files


def _input(settings: Settings, org: SeededOrg, page_size: int = 40) -> TeardownInput:
    return replace(recorded_input(settings, org.org_id, "member:admin", 0), batch_size=100,
                   purge_concurrency=1, heartbeat_timeout_seconds=2, step_timeout_seconds=10,
                   target_page_size=page_size)


def _check(sessions: sessionmaker[Session], store: ObjectStore, target: SeededOrg,
           neighbour_keys: list[str], neighbour: SeededOrg, files: PutFiles) -> None:
    assert objects_of(store, target.org_id) == []
    assert objects_of(store, neighbour.org_id) == neighbour_keys
    with sessions() as session:
        assert set(owned_counts(session, target.org_id).values()) == {0}
        cert = session.scalars(select(DeletionCertificate)
                               .where(DeletionCertificate.org_id == target.org_id)).one()
    assert cert.counts == {**target.counts, **files.counts()}
    assert cert.verification["object_storage.objects"] == 0


async def test_worker_sigkilled_mid_object_purge_finishes_with_exact_counts(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, object_store_endpoint: str, tmp_path: Path) -> None:
    bucket = f"kill-{uuid.uuid4().hex[:10]}"
    settings = Settings(database_url=postgres_url, data_dir=tmp_path,
                        object_store_endpoint=object_store_endpoint, object_store_bucket=bucket)
    store = configured_store(settings)
    assert store is not None
    target, neighbour, files = _seed(pg_sessions, settings, store, 300)
    neighbour_keys = objects_of(store, neighbour.org_id)
    queue = f"objects-kill-{uuid.uuid4().hex[:8]}"
    address = local_temporal.client.service_client.config.target_host
    worker = WorkerProcess(postgres_url, address, queue, tmp_path, env={
        "LIFECYCLE_OBJECT_STORE_ENDPOINT": object_store_endpoint,
        "LIFECYCLE_OBJECT_STORE_BUCKET": bucket})

    async def left() -> int:
        return len(objects_of(store, target.org_id))

    worker.start()
    try:
        # Pages of 10 (a ledger note and a DeleteObjects each) keep the purge slower than
        # a listing of what is left, so the kill lands while objects remain.
        handle = await start_teardown(local_temporal.client, settings,
                                      _input(settings, target, page_size=10), queue)
        await eventually(left, lambda n: n < files.objects, timeout=60)
        worker.kill()
        left_at_kill = await left()
        assert 0 < left_at_kill < files.objects
        worker.start()
        result = await handle.result()
    finally:
        worker.stop()
    assert result.status == COMPLETED
    _check(pg_sessions, store, target, neighbour_keys, neighbour, files)
    print(f"killed with {left_at_kill} of {files.objects} objects left; counts exact")


async def _retrying(handle: WorkflowHandle[Any, Any]) -> bool:
    """True once the object purge has failed at least once (its next attempt is pending)."""
    described = await handle.describe()
    return any(p.activity_type.name == "purge_target" and p.attempt >= 2
               for p in described.raw_description.pending_activities)


async def test_object_store_down_mid_purge_then_back_finishes_the_teardown(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    plan = seaweed.WeedPlan.fresh(tmp_path / "weed")
    settings = Settings(database_url=postgres_url, data_dir=tmp_path,
                        object_store_endpoint=plan.endpoint, object_store_bucket="outage")
    store = configured_store(settings)
    assert store is not None
    client = local_temporal.client
    process = seaweed.start(plan)
    try:
        target, neighbour, files = _seed(pg_sessions, settings, store, 200)
        neighbour_keys = objects_of(store, neighbour.org_id)
        async with teardown_worker(client, settings, pg_sessions) as queue:
            handle = await start_teardown(client, settings, _input(settings, target), queue)

            async def left() -> int:
                return len(objects_of(store, target.org_id))

            await eventually(left, lambda n: n < files.objects * 0.9, timeout=60)
            seaweed.stop(process)
            await eventually(lambda: _retrying(handle), bool, timeout=60)
            async with api_client(api_settings(settings)) as api:
                with pg_sessions() as session:
                    dataset_id = session.scalars(select(Dataset.id).where(
                        Dataset.org_id == neighbour.org_id)).first()
                base = (f"/orgs/{neighbour.org_id}/projects/{neighbour.project_ids[0]}"
                        f"/datasets/{dataset_id}/files/new.bin")
                refused = await api.put(base, content=b"x", headers=bearer(neighbour.admin_key))
                problem(refused, 503, "files-unavailable")
                assert refused.headers["retry-after"]
            process = seaweed.start(plan)
            result = await handle.result()
        assert result.status == COMPLETED
        _check(pg_sessions, store, target, neighbour_keys, neighbour, files)
    finally:
        seaweed.stop(process)
