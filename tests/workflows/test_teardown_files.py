"""The teardown with dataset files in a real S3-compatible store (SeaweedFS), on both
databases: nothing of the org is left in the bucket, the certificate counts what existed at
the freeze, object by object and byte by byte, and a neighbour's files are untouched."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from clients.teardown import start_teardown
from contracts.teardown import COMPLETED
from core.histories import run_histories
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from services.teardown import recorded_input
from store.models import DeletionCertificate, ProjectDeletionCertificate
from store.objects import ObjectStore
from store.plan import owned_counts
from tests.support.deletion_support import project_counts, request, start
from tests.support.files_support import objects_of, put_files
from tests.support.teardown_support import teardown_worker

SHAPE = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=40, members=2,
                 team_keys=1, project_keys_per_project=1)


async def test_teardown_purges_files_across_projects_and_certifies_exact_counts(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        files_settings: Settings, object_store: ObjectStore) -> None:
    with session_factory.begin() as session:
        target = seed_org(session, SHAPE, files_settings.pepper_bytes)
        neighbour = seed_org(session, SHAPE, files_settings.pepper_bytes)
    # 3 projects x 2 datasets x 350: a project's objects span several 1,000-key pages
    files = put_files(object_store, session_factory, target.org_id, 350)
    kept = put_files(object_store, session_factory, neighbour.org_id, 5)
    assert files.objects == 2100
    neighbour_keys = objects_of(object_store, neighbour.org_id)

    client = time_skipping_env.client
    inp = replace(recorded_input(files_settings, target.org_id,
                                 f"member:{target.admin_member_id}", 0),
                  batch_size=25, project_page_size=2, pages_per_run=1)
    async with teardown_worker(client, files_settings, session_factory) as queue:
        handle = await start_teardown(client, files_settings, inp, queue)
        result = await handle.result()

    assert result.status == COMPLETED
    assert objects_of(object_store, target.org_id) == []
    assert objects_of(object_store, neighbour.org_id) == neighbour_keys
    assert len(neighbour_keys) == kept.objects
    with session_factory() as session:
        assert set(owned_counts(session, target.org_id).values()) == {0}
        cert = session.scalars(select(DeletionCertificate)
                               .where(DeletionCertificate.org_id == target.org_id)).one()
    # what existed at the freeze, every table and the bucket's objects and bytes
    assert cert.counts == {**target.counts, **files.counts()}
    assert cert.verification["object_storage.objects"] == 0
    assert set(cert.verification.values()) == {0}
    assert cert.signed is not None and "object_storage.objects" in cert.signed
    # one purge_target activity per project beside its purge_project, across the runs
    histories = await run_histories(client, handle.id, handle.result_run_id or "")
    assert len(histories) == 3  # a page of two projects per run, then the empty page
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name
                 for h in histories for e in h.events
                 if e.HasField("activity_task_scheduled_event_attributes")]
    assert scheduled.count("purge_target") == scheduled.count("purge_project") == 3




async def test_project_deletion_purges_its_files_and_only_its_files(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        files_settings: Settings, object_store: ObjectStore) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, files_settings.pepper_bytes)
    project_id, other = org.project_ids[0], org.project_ids[1]
    files = put_files(object_store, session_factory, org.org_id, 30, project_id=project_id)
    kept = put_files(object_store, session_factory, org.org_id, 3, project_id=other)
    request_id = request(session_factory, org, project_id)
    client = time_skipping_env.client
    async with teardown_worker(client, files_settings, session_factory) as queue:
        handle = await start(client, files_settings, queue, org.org_id, project_id, request_id)
        result = await handle.result()

    assert result.status == COMPLETED
    assert objects_of(object_store, org.org_id, project_id) == []
    assert len(objects_of(object_store, org.org_id, other)) == kept.objects == 6
    with session_factory() as session:
        cert = session.scalars(select(ProjectDeletionCertificate).where(
            ProjectDeletionCertificate.project_id == project_id)).one()
    assert cert.counts == {**project_counts(SHAPE), **files.counts()}
    assert result.snapshot == cert.counts
    assert cert.verification["object_storage.objects"] == 0
