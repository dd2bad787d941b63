"""The teardown with resources behind a real HTTP control plane (a test server on loopback),
records and dataset files at once: every store is emptied, the certificate counts each, and a
control plane that answers 503 and 429 for a while only slows the purge down: no deletion is
started twice (idempotency keys) and the counts stay exact."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from clients.teardown import start_teardown
from contracts.teardown import COMPLETED
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from services.teardown import recorded_input
from store.models import DeletionCertificate
from store.objects import ObjectStore
from store.plan import owned_counts
from tests.support.control_plane_server import ControlPlaneState, control_plane_server
from tests.support.files_support import objects_of, put_files
from tests.support.teardown_support import teardown_worker

SHAPE = OrgShape(projects=3, datasets_per_project=1, records_per_dataset=10)


def _clusters(state: ControlPlaneState, org: SeededOrg, per_project: int) -> dict[str, int]:
    nodes = sum(state.add(org.org_id, pid, per_project) for pid in org.project_ids)
    return {"control_plane.clusters": per_project * len(org.project_ids),
            "control_plane.nodes": nodes}


async def _teardown(env: WorkflowEnvironment, settings: Settings,
                    sessions: sessionmaker[Session], org: SeededOrg) -> DeletionCertificate:
    inp = replace(recorded_input(settings, org.org_id, f"member:{org.admin_member_id}", 0),
                  target_page_size=7)
    async with teardown_worker(env.client, settings, sessions) as queue:
        result = await (await start_teardown(env.client, settings, inp, queue)).result()
    assert result.status == COMPLETED
    with sessions() as session:
        assert set(owned_counts(session, org.org_id).values()) == {0}
        return session.scalars(select(DeletionCertificate)
                               .where(DeletionCertificate.org_id == org.org_id)).one()


async def test_records_files_and_clusters_all_go_and_are_each_counted(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        files_settings: Settings, object_store: ObjectStore) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, files_settings.pepper_bytes)
        neighbour = seed_org(session, SHAPE, files_settings.pepper_bytes)
    files = put_files(object_store, session_factory, org.org_id, 20)
    with control_plane_server() as (url, state):
        clusters = _clusters(state, org, 12)
        _clusters(state, neighbour, 2)
        settings = files_settings.model_copy(update={"control_plane_url": url})
        cert = await _teardown(time_skipping_env, settings, session_factory, org)
        assert state.of(org.org_id) == []
        assert len(state.of(neighbour.org_id)) == 6
    assert objects_of(object_store, org.org_id) == []
    assert cert.counts == {**org.counts, **files.counts(), **clusters}
    assert cert.verification["control_plane.clusters"] == 0
    assert len(state.deletions_started) == clusters["control_plane.clusters"]


async def test_a_control_plane_answering_503_and_429_for_a_while_still_ends_exact(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
    with control_plane_server() as (url, state):
        clusters = _clusters(state, org, 15)
        state.refuse(6, 503)
        state.refuse(6, 429)
        state.refuse(6, 503)  # 18 refusals: more than one call's retries, so activities retry
        cert = await _teardown(time_skipping_env,
                               settings.model_copy(update={"control_plane_url": url}),
                               session_factory, org)
        assert state.of(org.org_id) == []
    assert state.refused == 18
    assert cert.counts == {**org.counts, **clusters}
    # one deletion per cluster, whatever was retried: every DELETE carried the cluster's key
    assert len(state.deletions_started) == clusters["control_plane.clusters"]
    assert state.delete_calls >= clusters["control_plane.clusters"]
