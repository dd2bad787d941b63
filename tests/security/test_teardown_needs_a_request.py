"""A teardown acts only on a request row the API wrote: the database is the authority, not
whoever reaches Temporal.

Why: anyone who could reach the Temporal frontend could start `OrgTeardownWorkflow` with any
org and any actor; the org froze and the audit trail named the made-up actor.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from contracts.teardown import STEPS, TeardownInput, TeardownState, teardown_workflow_id
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from services.teardown import recorded_input
from store.models import (
    AuditEvent,
    DeletionCertificate,
    Organization,
    OrgStatus,
    RequestStatus,
    TeardownRequest,
)
from store.plan import owned_counts
from tests.support.deletion_support import count_audit
from tests.support.teardown_support import teardown_worker
from workflows.teardown import OrgTeardownWorkflow

SHAPE = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=3, job_plans=1)


def _seed(sessions: sessionmaker[Session], settings: Settings) -> SeededOrg:
    with sessions.begin() as session:
        return seed_org(session, SHAPE, settings.pepper_bytes)


async def _refused(client: Client, inp: TeardownInput, queue: str,
                   workflow_id: str | None = None) -> str:
    """Start the workflow as an outsider would; the reason it failed."""
    handle = await client.start_workflow(
        OrgTeardownWorkflow.run, inp, id=workflow_id or teardown_workflow_id(inp.org_id),
        task_queue=queue)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    return str(failed.value.cause)  # "teardown failed at step <step>: <the activity's reason>"


def _status(sessions: sessionmaker[Session], org_id: str) -> OrgStatus | None:
    with sessions() as session:
        return session.scalar(select(Organization.status).where(Organization.id == org_id))


async def test_a_teardown_started_without_a_request_touches_nothing(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, other = _seed(session_factory, settings), _seed(session_factory, settings)
    with session_factory() as session:
        before = owned_counts(session, target.org_id)
    audit_before = count_audit(session_factory, target.org_id)
    # a real request, but for another org: not usable for this one
    foreign = recorded_input(settings, other.org_id, "member:other", 0)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        made_up = await _refused(client, TeardownInput(target.org_id, uuid.uuid4().hex), queue)
        crossed = await _refused(client, replace(foreign, org_id=target.org_id), queue)
        # a request of this org, started under another workflow id
        own = recorded_input(settings, target.org_id, "member:admin", 0)
        impostor = await _refused(client, own, queue, workflow_id=f"evil-{target.org_id}")
    for reason in (made_up, crossed, impostor):
        assert "no teardown request" in reason, reason
    with session_factory() as session:
        assert owned_counts(session, target.org_id) == before
        row = session.get(TeardownRequest, own.request_id)
        assert row is not None and row.status is RequestStatus.PENDING  # still unused
    assert _status(session_factory, target.org_id) is OrgStatus.ACTIVE
    assert count_audit(session_factory, target.org_id) == audit_before


async def test_made_up_carried_state_cannot_skip_the_claim(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    """Past the freeze (its steps marked done in a forged continue-as-new state), every
    destructive step still checks the request, on an org frozen or deleting by a failed run."""
    target = _seed(session_factory, settings)
    with session_factory.begin() as session:
        session.execute(update(Organization).where(Organization.id == target.org_id)
                        .values(status=OrgStatus.DELETING))
        before = owned_counts(session, target.org_id)
    forged = TeardownState(destructive=True, snapshot=dict(before))
    for step in forged.steps[:STEPS.index("unsubscribe_job_plans")]:
        step.status = "done"
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        reason = await _refused(client, TeardownInput(target.org_id, uuid.uuid4().hex,
                                                      carried=forged), queue)
    assert "no teardown request" in reason, reason
    with session_factory() as session:
        assert owned_counts(session, target.org_id) == before


async def test_the_audit_actor_comes_from_the_request_row(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target = _seed(session_factory, settings)
    inp = recorded_input(settings, target.org_id, f"member:{target.admin_member_id}", 0)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await client.start_workflow(OrgTeardownWorkflow.run, inp,
                                             id=teardown_workflow_id(target.org_id),
                                             task_queue=queue)
        await handle.result()
        # the same request cannot be used twice
        again = await _refused(client, inp, queue)
    assert "completed and not held by this run" in again
    with session_factory() as session:
        actors = dict(session.execute(select(AuditEvent.action, AuditEvent.actor).where(
            AuditEvent.org_id == target.org_id, AuditEvent.action.in_(
                ["teardown.claimed", "teardown.requested"]))).tuples().all())
        cert = session.scalar(select(DeletionCertificate).where(
            DeletionCertificate.org_id == target.org_id))
        row = session.get(TeardownRequest, inp.request_id)
    admin = f"member:{target.admin_member_id}"
    assert actors == {"teardown.claimed": admin, "teardown.requested": admin}
    assert cert is not None and cert.requested_by == admin
    assert row is not None and row.status is RequestStatus.COMPLETED
