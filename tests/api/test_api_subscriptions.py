"""Subscriptions over HTTP: real app, both databases, the time-skipping Temporal server and the
real worker, so each cancel goes through `SubscriptionCancelWorkflow` and its activity.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.billing import DatabaseBillingGateway
from activities.subscriptions import SubscriptionActivities
from contracts.subscriptions import (
    SubscriptionCancel,
    SubscriptionCancelInput,
    subscription_cancel_workflow_id,
)
from core.settings import Settings
from services.seeding import OrgShape
from store.models import AuditEvent, OrgStatus, Subscription, SubscriptionKind
from tests.support.api_support import (
    OrgKeys,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    set_status,
)
from tests.support.teardown_support import teardown_worker
from workflows.subscriptions import SubscriptionCancelWorkflow

SHAPE = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=1, members=2,
                 team_keys=1, project_keys_per_project=1, job_plans=2, usage_records=1,
                 invoices=0)


def _subs(sessions: sessionmaker[Session], org_id: str, kind: SubscriptionKind
          ) -> list[Subscription]:
    with sessions() as session:
        return list(session.execute(select(Subscription).where(
            Subscription.org_id == org_id, Subscription.kind == kind)
            .order_by(Subscription.id)).scalars())


def _cancel_audits(sessions: sessionmaker[Session], org_id: str) -> int:
    with sessions() as session:
        return session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "subscription.cancelled")
            ).scalar_one()


async def test_list_then_unsubscribe_a_job_plan_once(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    plan, other = _subs(session_factory, org_id, SubscriptionKind.JOB_PLAN)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as client:
        listed = await client.get(f"/orgs/{org_id}/subscriptions", headers=bearer(org.member))
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert {i["kind"] for i in items} == {"job_plan", "workspace_capacity"}
        assert len(items) == 3 and all(i["status"] == "active" for i in items)
        page = await client.get(f"/orgs/{org_id}/subscriptions", headers=admin,
                                params={"limit": 2})
        rest = await client.get(f"/orgs/{org_id}/subscriptions", headers=admin,
                                params={"limit": 2, "cursor": page.json()["next_cursor"]})
        assert [i["id"] for i in page.json()["items"] + rest.json()["items"]] == \
            [i["id"] for i in items]
        assert rest.json()["next_cursor"] is None

        url = f"/orgs/{org_id}/subscriptions/{plan.id}/unsubscribe"
        first = await client.post(url, headers=admin)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["status"] == "cancelled" and not body["already_cancelled"]
        assert body["workflow_id"] == subscription_cancel_workflow_id(plan.id)
        again = await client.post(url, headers=admin)
        assert again.status_code == 200, again.text
        assert again.json()["already_cancelled"] and again.json()["status"] == "cancelled"
        assert again.json()["cancelled_at"] == body["cancelled_at"]
        after = await client.get(f"/orgs/{org_id}/subscriptions", headers=admin)

    row, untouched = _subs(session_factory, org_id, SubscriptionKind.JOB_PLAN)
    assert row.status.value == "cancelled" and row.cancelled_at is not None
    assert row.cancel_key == f"{subscription_cancel_workflow_id(plan.id)}:cancel"
    assert untouched.id == other.id and untouched.status.value == "active"
    assert _cancel_audits(session_factory, org_id) == 1
    statuses = {i["id"]: i["status"] for i in after.json()["items"]}
    assert statuses[plan.id] == "cancelled" and statuses[other.id] == "active"


async def test_cancel_the_workspace_capacity_plan(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    bare = seed_with_keys(session_factory, settings,
                          OrgShape(projects=1, job_plans=1, workspace_capacity=False))
    org_id, admin = org.org.org_id, bearer(org.admin)
    [capacity] = _subs(session_factory, org_id, SubscriptionKind.WORKSPACE_CAPACITY)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as client:
        url = f"/orgs/{org_id}/workspace-capacity/cancel"
        first = await client.post(url, headers=admin)
        assert first.status_code == 200, first.text
        assert first.json()["subscription_id"] == capacity.id
        assert first.json()["kind"] == "workspace_capacity"
        assert not first.json()["already_cancelled"]
        again = await client.post(url, headers=admin)
        assert again.status_code == 200 and again.json()["already_cancelled"]
        none = await client.post(f"/orgs/{bare.org.org_id}/workspace-capacity/cancel",
                                 headers=bearer(bare.admin))
        problem(none, 404, "not-found")
    [row] = _subs(session_factory, org_id, SubscriptionKind.WORKSPACE_CAPACITY)
    assert row.status.value == "cancelled"
    assert row.cancel_key == f"{subscription_cancel_workflow_id(capacity.id)}:cancel"
    assert all(s.status.value == "active"
               for s in _subs(session_factory, org_id, SubscriptionKind.JOB_PLAN))
    assert _cancel_audits(session_factory, org_id) == 1


async def test_refusals_change_nothing(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org: OrgKeys = seed_with_keys(session_factory, settings, SHAPE)
    frozen = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    plan = _subs(session_factory, org_id, SubscriptionKind.JOB_PLAN)[0]
    [capacity] = _subs(session_factory, org_id, SubscriptionKind.WORKSPACE_CAPACITY)
    frozen_plan = _subs(session_factory, frozen.org.org_id, SubscriptionKind.JOB_PLAN)[0]
    set_status(session_factory, frozen.org.org_id, OrgStatus.FROZEN)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as client:
        unsub = f"/orgs/{org_id}/subscriptions/{plan.id}/unsubscribe"
        problem(await client.post(unsub, headers=bearer(org.member)), 403, "not-permitted")
        problem(await client.post(f"/orgs/{org_id}/workspace-capacity/cancel",
                                  headers=bearer(org.member)), 403, "not-permitted")
        problem(await client.get(f"/orgs/{org_id}/subscriptions",
                                 headers=bearer(org.project)), 403, "not-permitted")
        problem(await client.post(unsub, headers=bearer(frozen.admin)), 403)
        problem(await client.post(f"/orgs/{org_id}/subscriptions/{capacity.id}/unsubscribe",
                                  headers=admin), 422, "invalid-input")
        problem(await client.post(f"/orgs/{org_id}/subscriptions/nope/unsubscribe",
                                  headers=admin), 404, "not-found")
        problem(await client.post(
            f"/orgs/{org_id}/subscriptions/{frozen_plan.id}/unsubscribe", headers=admin),
            404, "not-found")
        problem(await client.post(
            f"/orgs/{frozen.org.org_id}/subscriptions/{frozen_plan.id}/unsubscribe",
            headers=bearer(frozen.admin)), 403, "org-frozen")
        problem(await client.post(f"/orgs/{frozen.org.org_id}/workspace-capacity/cancel",
                                  headers=bearer(frozen.admin)), 403, "org-frozen")
    for org_ in (org, frozen):
        for kind in SubscriptionKind:
            assert all(s.status.value == "active"
                       for s in _subs(session_factory, org_.org.org_id, kind))
        assert _cancel_audits(session_factory, org_.org.org_id) == 0


async def test_the_activity_refuses_a_frozen_org_even_when_the_route_was_passed(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    """The route's check and the workflow are not one transaction: a teardown may freeze the
    org in between, and then the activity's own guard must refuse, for good (no retries)."""
    org = seed_with_keys(session_factory, settings, SHAPE)
    plan = _subs(session_factory, org.org.org_id, SubscriptionKind.JOB_PLAN)[0]
    set_status(session_factory, org.org.org_id, OrgStatus.FROZEN)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue:
        with pytest.raises(WorkflowFailureError) as failed:
            await temporal.execute_workflow(
                SubscriptionCancelWorkflow.run,
                SubscriptionCancelInput(org.org.org_id, plan.id, "job_plan", "key:test"),
                id=subscription_cancel_workflow_id(plan.id), task_queue=queue)
    assert isinstance(failed.value.cause, ActivityError)
    cause = failed.value.cause.cause
    assert isinstance(cause, ApplicationError) and cause.type == "OrgNotActive"
    assert _subs(session_factory, org.org.org_id, SubscriptionKind.JOB_PLAN)[0] \
        .status.value == "active"


def test_a_retry_with_the_same_key_returns_the_same_result(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    plan = _subs(session_factory, org.org.org_id, SubscriptionKind.JOB_PLAN)[0]
    acts = SubscriptionActivities(session_factory, DatabaseBillingGateway())
    req = SubscriptionCancel(org.org.org_id, plan.id, "job_plan", "wf-1/cancel", "key:test")
    first = acts.cancel_subscription_live(req)
    assert first.status == "cancelled" and not first.already_cancelled
    other = acts.cancel_subscription_live(
        SubscriptionCancel(org.org.org_id, plan.id, "job_plan", "wf-2/cancel", "key:test"))
    assert other.already_cancelled and other.cancelled_at == first.cancelled_at
    set_status(session_factory, org.org.org_id, OrgStatus.FROZEN)  # a teardown began since
    assert acts.cancel_subscription_live(req) == first
    with pytest.raises(ApplicationError) as wrong_kind:
        acts.cancel_subscription_live(SubscriptionCancel(
            org.org.org_id, plan.id, "workspace_capacity", "wf-3/cancel", "key:test"))
    assert wrong_kind.value.type == "SubscriptionNotFound" and wrong_kind.value.non_retryable
    assert _cancel_audits(session_factory, org.org.org_id) == 1
