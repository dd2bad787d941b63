"""The member offboarding on the real time-skipping Temporal server and a real database (both)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.member_offboarding import MemberOffboardingActivities
from clients.member_offboarding import start_offboarding
from contracts.member_offboarding import (
    COMPLETED,
    REMOVAL_NOT_REQUESTED,
    MemberOffboardingInput,
    OffboardingStep,
    member_offboarding_workflow_id,
)
from core.settings import Settings
from services.seeding import SEED_ACTOR, OrgShape, SeededOrg, seed_org
from store import members
from store.member_models import REMOVAL_COMPLETED, REMOVAL_PENDING
from store.models import AuditEvent, Member
from store.plan import owned_counts
from tests.support.member_support import ACTOR, member_rows, remove
from tests.support.teardown_support import teardown_worker
from workflows.member_offboarding import MemberOffboardingWorkflow

SHAPE = OrgShape(members=3, projects=1, datasets_per_project=1, records_per_dataset=2,
                 permissions_off=2)


def _seed(sessions: sessionmaker[Session], settings: Settings) -> tuple[SeededOrg, list[str]]:
    with sessions.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
        others = list(session.scalars(select(Member.id).where(
            Member.org_id == org.org_id, Member.id != org.admin_member_id).order_by(Member.id)))
    return org, others


def _counts(sessions: sessionmaker[Session], org_id: str) -> dict[str, int]:
    with sessions() as session:
        return owned_counts(session, org_id)


async def test_offboarding_removes_the_member_and_only_them(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org, (leaving, staying) = _seed(session_factory, settings)
    before = _counts(session_factory, org.org_id)
    request_id = remove(session_factory, org.org_id, leaving)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start_offboarding(client, queue, org.org_id, leaving, request_id)
        again = await start_offboarding(client, queue, org.org_id, leaving, request_id)
        result = await handle.result()
    assert again.result_run_id == handle.result_run_id  # a second start joins the first
    assert result.status == COMPLETED
    assert result.counts == {"revoke_keys": 0, "release_quotas": 2, "end_sessions": 0,
                             "notify": 2, "remove_member": 1}
    after = _counts(session_factory, org.org_id)
    assert after["members"] == before["members"] - 1
    assert after["quotas"] == before["quotas"] - 2
    assert after["service_permissions"] == before["service_permissions"] - 1
    assert member_rows(session_factory, leaving) == {
        "members": 0, "live_team_keys": 0, "quotas": 0, "console_sessions": 0,
        "service_permissions": 0}
    assert member_rows(session_factory, staying)["service_permissions"] == 1
    with session_factory() as session:
        row = members.removal_for(session, request_id, org.org_id, leaving)
        assert row is not None and row.status == REMOVAL_COMPLETED
        actors = set(session.scalars(select(AuditEvent.actor).where(
            AuditEvent.target == f"member:{leaving}",
            AuditEvent.action.startswith("member."),
            AuditEvent.actor != SEED_ACTOR)))  # the seed's own events (joined, quotas) aside
    assert actors == {ACTOR}


async def test_a_workflow_without_a_matching_unused_request_touches_nothing(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org, (first, second) = _seed(session_factory, settings)
    pending = remove(session_factory, org.org_id, second)
    before = _counts(session_factory, org.org_id)
    with session_factory() as session:
        audit_before = session.scalar(select(func.count()).select_from(AuditEvent))
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        reasons = []
        for member_id, request_id, workflow_id in (
                (first, "f" * 32, member_offboarding_workflow_id(first)),  # made up
                (first, pending, member_offboarding_workflow_id(first)),  # another member's
                (second, pending, f"evil-{second}")):  # not the workflow the API named
            with pytest.raises(WorkflowFailureError) as failed:
                await client.execute_workflow(
                    MemberOffboardingWorkflow.run,
                    MemberOffboardingInput(org.org_id, member_id, request_id),
                    id=workflow_id, task_queue=queue)
            cause = failed.value.cause
            while cause.__cause__ is not None:
                cause = cause.__cause__
            assert isinstance(cause, ApplicationError) and cause.type == REMOVAL_NOT_REQUESTED
            reasons.append(str(cause))
    assert _counts(session_factory, org.org_id) == before
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before
        row = members.removal_for(session, pending, org.org_id, second)
        assert row is not None and row.status == REMOVAL_PENDING  # still unused


def test_every_step_twice_gives_the_same_counts(session_factory: sessionmaker[Session],
                                                settings: Settings) -> None:
    org, (leaving, _) = _seed(session_factory, settings)
    request_id = remove(session_factory, org.org_id, leaving)
    acts = MemberOffboardingActivities(session_factory)
    step = OffboardingStep(org.org_id, leaving, request_id,
                           member_offboarding_workflow_id(leaving), "run-1")
    acts.claim_removal_request(step)
    acts.claim_removal_request(step)
    steps = [acts.revoke_member_keys, acts.release_member_quotas, acts.end_member_sign_in,
             acts.notify_offboarding, acts.delete_member_row]
    first = [run(step) for run in steps]
    second = [run(step) for run in steps]
    assert first == second == [0, 2, 0, 2, 1]
    acts.claim_removal_request(step)  # replayed after a crash that lost the history's record
