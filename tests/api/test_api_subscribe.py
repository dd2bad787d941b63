"""Subscribing over HTTP: real app, both databases, the time-skipping Temporal server and the
real worker, so each subscribe goes through `SubscriptionCreateWorkflow` and the billing
gateway with the caller's idempotency key."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape
from store.models import AuditEvent, OrgStatus, Subscription
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    set_status,
)
from tests.support.db_snapshot import changed, fingerprint
from tests.support.teardown_support import teardown_worker

SHAPE = OrgShape(projects=1, job_plans=0, workspace_capacity=False)
JOB = {"kind": "job_plan", "plan": "job-plan-gpu"}
CAPACITY = {"kind": "workspace_capacity", "plan": "workspace-capacity-standard"}


def _rows(sessions: sessionmaker[Session], org_id: str) -> list[Subscription]:
    with sessions() as session:
        return list(session.scalars(select(Subscription).where(Subscription.org_id == org_id)))


def _created_audits(sessions: sessionmaker[Session], org_id: str) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "subscription.created")) or 0)


async def test_subscribe_once_per_idempotency_key(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, path = org.org.org_id, f"/orgs/{org.org.org_id}/subscriptions"
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), client) as api:
        key = {**bearer(org.admin), "Idempotency-Key": "order-1"}
        first = await api.post(path, headers=key, json=JOB)
        again = await api.post(path, headers=key, json=JOB)
        in_body = await api.post(path, headers=bearer(org.admin),
                                 json={**JOB, "idempotency_key": "order-1"})
        other_plan = await api.post(path, headers=key, json=CAPACITY)
        second_job = await api.post(path, headers={**bearer(org.admin),
                                                   "Idempotency-Key": "order-2"}, json=JOB)
        capacity = await api.post(path, headers={**bearer(org.admin),
                                                 "Idempotency-Key": "cap-1"}, json=CAPACITY)
        before = fingerprint(session_factory)
        capacity_twice = await api.post(path, headers={**bearer(org.admin),
                                                       "Idempotency-Key": "cap-2"},
                                        json=CAPACITY)
        no_key = await api.post(path, headers=bearer(org.admin), json=JOB)
        differing = await api.post(path, headers={**bearer(org.admin), "Idempotency-Key": "a"},
                                   json={**JOB, "idempotency_key": "b"})
        member = await api.post(path, headers={**bearer(org.member), "Idempotency-Key": "m"},
                                json=JOB)
        after = fingerprint(session_factory)
        listed = await api.get(path, headers=bearer(org.member))
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["replayed"] is False and made["subscription"]["status"] == "active"
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["subscription"]["id"] == made["subscription"]["id"]
    assert in_body.status_code == 200 and in_body.json()["subscription"]["id"] == \
        made["subscription"]["id"]
    problem(other_plan, 409, "idempotency-key-reused")
    assert second_job.status_code == 201  # job plans may be several, each with its own key
    assert capacity.status_code == 201, capacity.text
    problem(capacity_twice, 409, "capacity-already-active")
    problem(no_key, 422)
    problem(differing, 422)
    problem(member, 403, "not-permitted")
    assert changed(before, after) in ([], ["api_keys"])  # at most a last-used stamp
    rows = _rows(session_factory, org_id)
    assert sorted(r.kind.value for r in rows) == ["job_plan", "job_plan", "workspace_capacity"]
    assert {r.create_key for r in rows} == {"order-1", "order-2", "cap-1"}
    assert _created_audits(session_factory, org_id) == 3
    assert len(listed.json()["items"]) == 3


async def test_subscribe_needs_a_usable_card_and_an_active_org(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    no_card = seed_with_keys(session_factory, settings, OrgShape(projects=1, card=False))
    frozen = seed_with_keys(session_factory, settings, SHAPE)
    set_status(session_factory, frozen.org.org_id, OrgStatus.FROZEN)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), client) as api:
        carded = await api.post(f"/orgs/{no_card.org.org_id}/subscriptions",
                                headers={**bearer(no_card.admin), "Idempotency-Key": "k"},
                                json=JOB)
        cold = await api.post(f"/orgs/{frozen.org.org_id}/subscriptions",
                              headers={**bearer(frozen.admin), "Idempotency-Key": "k"},
                              json=JOB)
    problem(carded, 409, "payment-method-required")
    problem(cold, 403, "org-frozen")
    assert [r for r in _rows(session_factory, no_card.org.org_id)
            if r.create_key == "k"] == []  # the seed's own plans are all there is
