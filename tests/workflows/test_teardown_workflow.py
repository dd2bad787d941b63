"""The org teardown on the real time-skipping Temporal server and a real database (both kinds)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Unpack

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from activities.billing import DatabaseBillingGateway
from activities.purge import PurgeActivities
from activities.teardown import TeardownActivities
from clients.teardown import start_teardown
from contracts.teardown import (
    CANCELLED,
    COMPLETED,
    IN_GRACE,
    CancelRequest,
    ExpediteRequest,
    OrgStep,
    ProjectPurgeResult,
    ProjectStep,
    StepCount,
    TeardownInput,
)
from core.histories import run_histories
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from services.teardown import recorded_input
from store.models import (
    ApiKey,
    AuditEvent,
    DeletionCertificate,
    Organization,
    OrgStatus,
    OutboxMessage,
)
from store.plan import owned_counts
from tests.support.teardown_support import TeardownKnobs, eventually, teardown_worker
from workflows.teardown import OrgTeardownWorkflow

SHAPE = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=23, members=3,
                 team_keys=2, project_keys_per_project=1, job_plans=2, usage_records=4,
                 invoices=2)


def _seed(sessions: sessionmaker[Session], settings: Settings,
          shape: OrgShape = SHAPE) -> tuple[SeededOrg, SeededOrg]:
    with sessions.begin() as session:
        target = seed_org(session, shape, settings.pepper_bytes)
        neighbour = seed_org(session, shape, settings.pepper_bytes)
    return target, neighbour


def _input(settings: Settings, org: SeededOrg, grace: int = 0,
           **kw: Unpack[TeardownKnobs]) -> TeardownInput:
    base = recorded_input(settings, org.org_id, f"member:{org.admin_member_id}", grace)
    knobs: TeardownKnobs = {"batch_size": 10, **kw}
    return replace(base, **knobs)


async def test_teardown_deletes_everything_and_only_that_org(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, neighbour = _seed(session_factory, settings)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start_teardown(client, settings,
                                      _input(settings, target, project_page_size=1,
                                             pages_per_run=2), queue)
        result = await handle.result()

    assert result.status == COMPLETED
    assert result.percent == 100.0
    with session_factory() as session:
        assert set(owned_counts(session, target.org_id).values()) == {0}
        assert owned_counts(session, neighbour.org_id) == neighbour.counts
        cert = session.scalars(select(DeletionCertificate)
                               .where(DeletionCertificate.org_id == target.org_id)).one()
        notices = session.scalars(select(OutboxMessage.subject)
                                  .where(OutboxMessage.org_id == target.org_id)).all()
    # the certificate counts every row that existed at freeze time, table by table
    assert cert.counts == target.counts
    assert set(cert.verification.values()) == {0}
    assert cert.id == result.certificate_id
    assert [s["name"] for s in cert.steps][:3] == ["freeze", "grace", "unsubscribe_job_plans"]
    # every step in the certificate is finished, its own included
    assert {s["status"] for s in cert.steps} <= {"done", "skipped"}, cert.steps
    # each step counts what its name says: remove_members counts members, not their quotas
    members = next(s for s in result.steps if s.name == "remove_members")
    assert members.done == members.total == target.counts["members"]
    assert target.name not in str(cert.__dict__) and target.admin_email not in str(cert.__dict__)
    assert len(notices) == 2  # requested, completed

    # three projects, one per page, two pages per run: the parent continued as new
    histories = await run_histories(client, handle.id, handle.result_run_id or "")
    assert len(histories) == 2
    text = "".join(h.to_json() for h in histories)
    for secret in [target.name, *target.emails, target.admin_key]:
        assert secret not in text, "personal data or a secret reached Temporal history"


async def test_cancel_during_grace_restores_the_org(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start_teardown(client, settings, _input(settings, target, grace=3600),
                                      queue)
        await eventually(lambda: handle.query(OrgTeardownWorkflow.progress),
                         lambda p: p.status == IN_GRACE)
        with session_factory() as session:
            org = session.get(Organization, target.org_id)
            assert org is not None and org.status is OrgStatus.FROZEN
        outcome = await handle.execute_update(OrgTeardownWorkflow.cancel,
                                              CancelRequest("member:someone"))
        result = await handle.result()
    assert outcome.cancelled
    assert result.status == CANCELLED
    with session_factory() as session:
        org = session.get(Organization, target.org_id)
        assert org is not None and org.status is OrgStatus.ACTIVE and org.frozen_at is None
        assert owned_counts(session, target.org_id) == target.counts
        key = session.scalars(select(ApiKey).where(ApiKey.prefix == target.admin_key[:12])).one()
        assert key.revoked_at is None
    # the admin may decide again later: a new teardown of the same org starts and finishes
    async with teardown_worker(client, settings, session_factory) as queue:
        again = await start_teardown(client, settings, _input(settings, target), queue)
        assert (await again.result()).status == COMPLETED
    with session_factory() as session:
        subjects = session.scalars(select(OutboxMessage.subject).where(
            OutboxMessage.org_id == target.org_id)).all()
    # requested + cancelled for the first teardown, requested + completed for the second
    assert len(subjects) == 4


async def test_cancel_after_point_of_no_return_is_refused(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    """Hold the purge (a replaced activity) so the cancel surely arrives mid-deletion."""
    target, _ = _seed(session_factory, settings)
    release = threading.Event()
    real = PurgeActivities(session_factory)

    @activity.defn(name="purge_project")
    def held_purge(step: ProjectStep) -> ProjectPurgeResult:
        release.wait(timeout=60)
        return real.purge_project(step)

    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory, [held_purge]) as queue:
        handle = await start_teardown(client, settings, _input(settings, target), queue)
        await eventually(lambda: handle.query(OrgTeardownWorkflow.progress),
                         lambda p: p.current_step == "purge_projects")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OrgTeardownWorkflow.cancel, CancelRequest("member:x"))
        release.set()
        result = await handle.result()
    assert "point of no return" in str(refused.value.cause)
    assert result.status == COMPLETED
    with session_factory() as session:
        assert set(owned_counts(session, target.org_id).values()) == {0}


async def test_expedite_ends_grace_early(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings)
    client = time_skipping_env.client
    week = 7 * 24 * 3600
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start_teardown(client, settings, _input(settings, target, grace=week),
                                      queue)
        await eventually(lambda: handle.query(OrgTeardownWorkflow.progress),
                         lambda p: p.status == IN_GRACE)
        await handle.execute_update(OrgTeardownWorkflow.expedite, ExpediteRequest("member:x"))
        result = await handle.result()
    assert result.status == COMPLETED
    grace = next(s for s in result.steps if s.name == "grace")
    assert grace.finished_at is not None and result.grace_deadline is not None
    # time skipping would have jumped to the deadline; expedite ended the window well before it
    assert grace.finished_at < result.grace_deadline
    # and the step's count says so: the seconds it lasted, out of the window's
    assert grace.total == week and 0 <= grace.done < week
    with session_factory() as session:
        subjects = session.scalars(select(OutboxMessage.subject).where(
            OutboxMessage.org_id == target.org_id)).all()
    assert not any("less than a day" in s for s in subjects)


async def test_grace_runs_out_with_a_reminder_a_day_before(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings, OrgShape(projects=1, records_per_dataset=3))
    client = own_time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start_teardown(client, settings,
                                      _input(settings, target, grace=3 * 24 * 3600), queue)
        result = await handle.result()
    assert result.status == COMPLETED
    grace = next(s for s in result.steps if s.name == "grace")
    assert grace.finished_at is not None and result.grace_deadline is not None
    assert grace.finished_at >= result.grace_deadline
    with session_factory() as session:
        subjects = session.scalars(select(OutboxMessage.subject).where(
            OutboxMessage.org_id == target.org_id).order_by(OutboxMessage.id)).all()
    assert len(subjects) == 3 and "less than a day" in subjects[1]


async def test_second_start_is_refused_and_names_the_running_one(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        inp = _input(settings, target, grace=3600)
        first = await start_teardown(client, settings, inp, queue)
        with pytest.raises(WorkflowAlreadyStartedError) as again:
            await start_teardown(client, settings, inp, queue)
        assert again.value.run_id == first.result_run_id
        await first.execute_update(OrgTeardownWorkflow.cancel, CancelRequest("member:x"))
        await first.result()


async def test_blocking_preflight_refuses_the_teardown(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    target, _ = _seed(session_factory, settings, OrgShape(invoices=2, unpaid_invoices=1))
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue:
        handle = await start_teardown(client, settings, _input(settings, target), queue)
        with pytest.raises(Exception) as failed:
            await handle.result()
    assert "unpaid invoice" in str(failed.value.__cause__)
    with session_factory() as session:
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.org_id == target.org_id)).all()
    assert "teardown.failed" in actions
    with session_factory() as session:
        org = session.get(Organization, target.org_id)
        assert org is not None and org.status is OrgStatus.ACTIVE
        assert owned_counts(session, target.org_id) == target.counts


async def test_a_short_step_failing_locally_is_retried_as_an_activity(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    """Short steps run as local activities with a few attempts; a step still failing after them
    (a database down for longer) must go on as a regular, forever-retried activity, not fail."""
    target, _ = _seed(session_factory, settings)
    real = TeardownActivities(session_factory, DatabaseBillingGateway())
    attempts: list[int] = []

    @activity.defn(name="delete_payment_method")
    def flaky(step: OrgStep) -> StepCount:
        attempts.append(activity.info().attempt)
        if len(attempts) <= 4:  # the three local attempts and the first regular one
            raise RuntimeError("database unavailable")
        return real.delete_payment_method(step)

    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory, [flaky]) as queue:
        handle = await start_teardown(client, settings, _input(settings, target), queue)
        result = await handle.result()
    assert result.status == COMPLETED
    assert attempts == [1, 2, 3, 1, 2]
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name
                 for e in (await handle.fetch_history()).events
                 if e.HasField("activity_task_scheduled_event_attributes")]
    assert "delete_payment_method" in scheduled
    with session_factory() as session:
        cert = session.scalars(select(DeletionCertificate)
                               .where(DeletionCertificate.org_id == target.org_id)).one()
    assert cert.counts == target.counts
