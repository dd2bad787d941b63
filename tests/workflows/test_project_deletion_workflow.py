"""The project deletion on the real time-skipping Temporal server and a real database (both)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.purge import PurgeActivities
from api.auth import authenticate
from api.problems import ProjectFrozen
from clients.project_deletion import deletion_input
from contracts.project_deletion import (
    CANCELLED,
    COMPLETED,
    DELETION_NOT_REQUESTED,
    IN_GRACE,
    DeletionCancel,
)
from contracts.teardown import ProjectPurgeResult, ProjectStep
from core.settings import Settings
from services.seeding import SEED_ACTOR, OrgShape, SeededOrg, seed_org
from store import ledger, project_deletions
from store.models import KeyScope, ProjectDeletionCertificate, ProjectDeletionStatus, ProjectStatus
from store.plan import owned_counts
from tests.support.api_support import mint
from tests.support.deletion_support import (
    ACTOR,
    count_audit,
    project_audit,
    project_counts,
    request,
    start,
    status_of,
)
from tests.support.teardown_support import eventually, teardown_worker
from workflows.project_deletion import ProjectDeletionWorkflow

SHAPE = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=23,
                 project_keys_per_project=2)
PROJECT_TABLES = ("api_keys", "dataset_records", "datasets", "projects")


def _seed(sessions: sessionmaker[Session], settings: Settings) -> tuple[SeededOrg, SeededOrg]:
    with sessions.begin() as session:
        target = seed_org(session, SHAPE, settings.pepper_bytes)
        neighbour = seed_org(session, SHAPE, settings.pepper_bytes)
    return target, neighbour


def _counts(sessions: sessionmaker[Session], org_id: str) -> dict[str, int]:
    with sessions() as session:
        return owned_counts(session, org_id)


def _minus(counts: dict[str, int], deleted: dict[str, int]) -> dict[str, int]:
    return {t: n - deleted.get(t, 0) for t, n in counts.items()}


async def test_deletion_deletes_the_project_exactly_and_nothing_else(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, neighbour = _seed(session_factory, settings)
    project_id = target.project_ids[0]
    before = _counts(session_factory, target.org_id)
    request_id = request(session_factory, target, project_id)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start(client, settings, queue, target.org_id, project_id, request_id)
        result = await handle.result()

    expected = project_counts(SHAPE)
    assert result.status == COMPLETED and result.percent == 100.0
    assert result.snapshot == expected and result.deleted == expected
    with session_factory() as session:
        cert = session.scalars(select(ProjectDeletionCertificate)
                               .where(ProjectDeletionCertificate.request_id == request_id)).one()
        row = project_deletions.request_for(session, request_id, target.org_id, project_id)
        assert row is not None and row.status is ProjectDeletionStatus.COMPLETED
        assert set(project_deletions.project_rows(session, project_id).values()) == {0}
        assert ledger.total(session, target.org_id, f"records:{project_id}:") == \
            expected["dataset_records"]
    assert cert.counts == expected and set(cert.verification.values()) == {0}
    assert cert.requested_by == ACTOR and cert.workflow_id == handle.id
    assert [s["name"] for s in cert.steps][-1] == "certificate"
    # the rest of the org and the neighbour are exactly as they were
    assert _counts(session_factory, target.org_id) == _minus(before, expected)
    assert _counts(session_factory, neighbour.org_id) == neighbour.counts
    # every event about the project names the key that asked for it, none a made-up actor
    created, *events = project_audit(session_factory, target.org_id, project_id)
    assert created == (SEED_ACTOR, "project.created")
    assert [a for a, _ in events] == [ACTOR] * len(events)
    assert [e for _, e in events] == ["project.deletion_requested", "project.deletion_started",
                                      "project.frozen", "project.purged", "project.deleted"]


async def test_cancel_in_grace_restores_the_project(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings)
    project_id = target.project_ids[1]
    key = mint(session_factory, settings, target.org_id, target.admin_member_id,
               scope=KeyScope.PROJECT, project_id=project_id)
    before = _counts(session_factory, target.org_id)
    request_id = request(session_factory, target, project_id, grace=3600)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start(client, settings, queue, target.org_id, project_id, request_id)
        await eventually(lambda: handle.query(ProjectDeletionWorkflow.progress),
                         lambda p: p.status == IN_GRACE)
        assert status_of(session_factory, project_id) is ProjectStatus.FROZEN
        with session_factory() as session, pytest.raises(ProjectFrozen):
            authenticate(session, settings, key)  # a frozen project's keys are refused
        decision = await handle.execute_update(ProjectDeletionWorkflow.cancel,
                                               DeletionCancel("key:olt_admin"))
        result = await handle.result()

    assert decision.accepted and result.status == CANCELLED
    assert status_of(session_factory, project_id) is ProjectStatus.ACTIVE
    assert _counts(session_factory, target.org_id) == before
    with session_factory() as session:
        row = project_deletions.request_for(session, request_id, target.org_id, project_id)
        assert row is not None and row.status is ProjectDeletionStatus.CANCELLED
        assert ledger.entries(session, target.org_id, f"project-deletion:{request_id}") == {}
        assert authenticate(session, settings, key).project_id == project_id  # works again


async def _refused(client: Client, settings: Settings, queue: str, org_id: str,
                   project_id: str, request_id: str, workflow_id: str | None = None) -> str:
    """Run a deletion that must be refused at its first step; the refusal's message."""
    inp = deletion_input(settings, org_id, project_id, request_id)
    handle = await client.start_workflow(
        ProjectDeletionWorkflow.run, inp, task_queue=queue,
        id=workflow_id or f"project-deletion-{project_id}",
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    inner = cause.__cause__
    assert isinstance(inner, ActivityError)
    error = inner.__cause__
    assert isinstance(error, ApplicationError) and error.type == DELETION_NOT_REQUESTED
    assert error.non_retryable
    return error.message


async def test_a_workflow_without_a_matching_unused_request_touches_nothing(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings)
    first, second = target.project_ids[0], target.project_ids[1]
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        cancelled = request(session_factory, target, first, grace=3600)
        handle = await start(client, settings, queue, target.org_id, first, cancelled)
        await eventually(lambda: handle.query(ProjectDeletionWorkflow.progress),
                         lambda p: p.status == IN_GRACE)
        await handle.execute_update(ProjectDeletionWorkflow.cancel, DeletionCancel("key:x"))
        await handle.result()
        pending = request(session_factory, target, second, grace=3600)
        before = _counts(session_factory, target.org_id)
        audit_before = count_audit(session_factory, target.org_id)

        made_up = await _refused(client, settings, queue, target.org_id, first, "f" * 32)
        used = await _refused(client, settings, queue, target.org_id, first, cancelled)
        # another project's request does not open this one
        crossed = await _refused(client, settings, queue, target.org_id, first, pending)
        # the right request, but not the workflow the API named in it
        impostor = await _refused(client, settings, queue, target.org_id, second, pending,
                                  workflow_id=f"evil-{second}")

    assert "no deletion request" in made_up and "no deletion request" in crossed
    assert "cancelled" in used and "for this workflow" in impostor
    assert _counts(session_factory, target.org_id) == before
    assert count_audit(session_factory, target.org_id) == audit_before
    assert status_of(session_factory, first) is ProjectStatus.ACTIVE
    assert status_of(session_factory, second) is ProjectStatus.ACTIVE
    with session_factory() as session:
        row = project_deletions.request_for(session, pending, target.org_id, second)
        assert row is not None and row.status is ProjectDeletionStatus.PENDING  # still unused


async def test_cancel_after_the_point_of_no_return_is_refused(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings)
    project_id = target.project_ids[2]
    release = threading.Event()
    real = PurgeActivities(session_factory)

    @activity.defn(name="purge_project")
    def held_purge(step: ProjectStep) -> ProjectPurgeResult:
        release.wait(timeout=60)
        return real.purge_project(step)

    request_id = request(session_factory, target, project_id)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory, [held_purge]) as queue:
        handle = await start(client, settings, queue, target.org_id, project_id, request_id)
        await eventually(lambda: handle.query(ProjectDeletionWorkflow.progress),
                         lambda p: p.current_step == "purge")
        assert status_of(session_factory, project_id) is ProjectStatus.DELETING
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ProjectDeletionWorkflow.cancel, DeletionCancel("k"))
        release.set()
        result = await handle.result()
    assert "point of no return" in str(refused.value.cause)
    assert result.status == COMPLETED and result.deleted == project_counts(SHAPE)
    assert status_of(session_factory, project_id) is None
