"""The teardown over HTTP: real app, real database (both kinds), real time-skipping Temporal server
and the real worker on a private task queue.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.purge import PurgeActivities
from contracts.teardown import ProjectPurgeResult, ProjectStep
from core.settings import Settings
from core.signing import parse_key_set, verify
from services.seeding import OrgShape
from store.base import utcnow
from store.models import AuditEvent, DeletionCertificate, Organization, OrgStatus
from store.plan import owned_counts
from tests.support.api_support import (
    OPERATOR_TOKEN,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    teardown_status,
)
from tests.support.teardown_support import eventually, teardown_worker

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=7, members=3,
                 team_keys=1, project_keys_per_project=1, job_plans=1, usage_records=3,
                 invoices=1)
OPERATOR = bearer(OPERATOR_TOKEN)


async def test_the_whole_journey_plan_start_progress_done_certificate(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    neighbour = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    with session_factory() as session:
        neighbour_before = owned_counts(session, neighbour.org.org_id)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as client:
        plan = (await client.get(f"/orgs/{org_id}/teardown/plan", headers=admin)).json()
        assert plan["confirmation_phrase"] == org.org.name and not plan["blocked"]
        assert plan["counts"]["dataset_records"] == 2 * 2 * 7
        # the bounds, and when a start now would delete: by default, and at the soonest
        assert (plan["grace_seconds"], plan["min_grace_seconds"], plan["max_grace_seconds"]) \
            == (3600, settings.min_grace_seconds, settings.max_grace_seconds)
        deletion_at = datetime.fromisoformat(plan["deletion_at"])
        earliest = datetime.fromisoformat(plan["earliest_deletion_at"])
        assert deletion_at - earliest == timedelta(seconds=3600 - settings.min_grace_seconds)
        assert abs(deletion_at - utcnow() - timedelta(seconds=3600)) < timedelta(minutes=5)

        wrong = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                  json={"confirm_name": org.org.name + "x"})
        problem(wrong, 422, "invalid-input")
        too_long = await client.post(f"/orgs/{org_id}/teardown", headers=admin, json={
            "confirm_name": org.org.name, "grace_seconds": settings.max_grace_seconds + 1})
        assert problem(too_long, 422, "invalid-input")["maximum"] == settings.max_grace_seconds
        started = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                    json={"confirm_name": org.org.name, "grace_seconds": 86400})
        assert started.status_code == 202, started.text
        body = started.json()
        assert body["workflow_id"] == f"org-teardown-{org_id}"
        assert body["status_url"] == f"/orgs/{org_id}/teardown"

        # frozen: the admin key still watches the teardown, and is refused everywhere else
        live = await eventually(lambda: teardown_status(client, org_id, admin),
                                lambda s: s["status"] == "grace")
        assert live["source"] == "workflow" and live["cancellable"] and live["grace_deadline"]
        problem(await client.get(f"/orgs/{org_id}", headers=admin), 403, "org-frozen")
        problem(await client.post(f"/orgs/{org_id}/keys", headers=admin, json={"name": "k"}),
                403, "org-frozen")
        problem(await client.get(f"/orgs/{org_id}/teardown", headers=bearer(org.member)), 403)

        again = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                  json={"confirm_name": org.org.name})
        conflict = problem(again, 409, "teardown-running")
        assert conflict["workflow_id"] == body["workflow_id"]
        assert conflict["run_id"] == body["run_id"]

        expedited = await client.post(f"/orgs/{org_id}/teardown/expedite", headers=admin)
        assert expedited.status_code == 200 and expedited.json()["accepted"], expedited.text
        done = await eventually(lambda: teardown_status(client, org_id, OPERATOR),
                                lambda s: s["status"] == "completed")

        # the org and its keys are gone: the admin key no longer authenticates
        problem(await client.get(f"/orgs/{org_id}/teardown", headers=admin), 401)
        # ... but the receipt from the start still reads the certificate, and only that one
        receipt = bearer(body["certificate_receipt"])
        by_receipt = await client.get(body["certificate_url"], headers=receipt)
        forged = bearer(body["certificate_receipt"][:-2] + "xx")
        problem(await client.get(body["certificate_url"], headers=forged), 401)
        problem(await client.get(body["certificate_url"], headers=admin), 401)
        problem(await client.get(f"/orgs/{neighbour.org.org_id}/teardown/certificate",
                                 headers=receipt), 403)
        # `completed` is reported a moment before the run closes (the last notice is queued)
        ops = await eventually(
            lambda: client.get(f"/ops/workflows/{body['workflow_id']}", headers=OPERATOR),
            lambda r: r.json().get("status") == "completed")
        history = await client.get(f"/ops/workflows/{body['workflow_id']}/history",
                                   headers=OPERATOR, params={"page_size": 10})
        second = await client.get(
            f"/ops/workflows/{body['workflow_id']}/history", headers=OPERATOR,
            params={"page_size": 10, "next_page_token": history.json()["next_page_token"]})
        published = (await client.get("/.well-known/lifecycle-certificate-keys")).json()
        # the deleted org's name is held: a new org cannot take it, another name is fine ...
        new_org = {"name": org.org.name, "admin_email": "new@example.com", "admin_name": "N",
                   "timezone": "UTC"}
        quarantined = await client.post("/orgs", headers=OPERATOR, json=new_org)
        other_name = await client.post("/orgs", headers=OPERATOR,
                                       json={**new_org, "name": org.org.name + " 2"})
        # ... until the quarantine is over (the certificate dated back past it)
        with session_factory.begin() as session:
            session.execute(update(DeletionCertificate).where(
                DeletionCertificate.org_id == org_id).values(
                created_at=utcnow() - timedelta(days=settings.org_name_quarantine_days,
                                                minutes=1)))
        after_quarantine = await client.post("/orgs", headers=OPERATOR, json=new_org)
    refusal = problem(quarantined, 409, "name-quarantined")
    assert refusal["field"] == "name" and "90 days" in refusal["detail"]
    assert org.org.name not in str(refusal)
    assert other_name.status_code == 201 and after_quarantine.status_code == 201
    cert = done["certificate"]
    # the signed form verifies with the published keys alone, and says what the JSON says
    signed, kid = verify(cert["signed"].encode(), parse_key_set(published))
    assert kid == published["keys"][0]["key_id"] == signed["signing_key_id"]
    assert (signed["certificate_id"], signed["run_id"], signed["counts"]) == (
        cert["id"], cert["run_id"], cert["counts"])
    assert signed["verification"]["passed"] and signed["org_name_hash"] == cert["org_name_hash"]
    assert cert is not None and done["percent"] == 100.0
    assert by_receipt.status_code == 200, by_receipt.text
    assert by_receipt.json()["certificate"]["id"] == cert["id"]
    assert cert["counts"] == plan["counts"]  # exactly what the dry run announced
    assert set(cert["verification"].values()) == {0}
    assert cert["workflow_id"] == body["workflow_id"]
    assert org.org.name not in str(done) and org.admin not in str(done)
    assert ops.status_code == 200 and ops.json()["status"] == "completed"
    assert ops.json()["ui_url"].endswith(f"/workflows/{body['workflow_id']}")
    events = history.json()["events"]
    assert len(events) == 10 and history.json()["next_page_token"]
    assert events[0]["type"] == "workflow_execution_started"
    # freeze runs as a local activity: its marker is named like a regular activity's events
    assert any(e["activity"] == "freeze_org" and e["type"] == "marker_recorded"
               for e in events)
    assert [e["event_id"] for e in second.json()["events"]] == list(range(11, 21))
    with session_factory() as session:
        assert set(owned_counts(session, org_id).values()) == {0}
        assert owned_counts(session, neighbour.org.org_id) == neighbour_before
        actions = set(session.scalars(select(AuditEvent.action).where(
            AuditEvent.org_id == org_id, AuditEvent.actor == f"key:{org.admin[:12]}")))
    assert {"teardown.started", "teardown.expedite"} <= actions


async def test_cancel_in_grace_restores_the_org_and_its_keys(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as client:
        started = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                    json={"confirm_name": org.org.name, "grace_seconds": 3600})
        assert started.status_code == 202, started.text
        await eventually(lambda: teardown_status(client, org_id, admin),
                         lambda s: s["status"] == "grace")
        cancelled = await client.post(f"/orgs/{org_id}/teardown/cancel", headers=admin,
                                      json={"reason": "changed our mind"})
        assert cancelled.status_code == 200 and cancelled.json()["accepted"], cancelled.text
        after = await teardown_status(client, org_id, admin)
        back = await client.get(f"/orgs/{org_id}", headers=admin)
        late = await client.post(f"/orgs/{org_id}/teardown/expedite", headers=admin)
    assert after["status"] == "cancelled" and after["certificate"] is None
    assert back.status_code == 200 and back.json()["status"] == "active"
    problem(late, 409, "teardown-not-cancellable")
    with session_factory() as session:
        row = session.get(Organization, org_id)
        assert row is not None and row.status is OrgStatus.ACTIVE
        assert owned_counts(session, org_id)["dataset_records"] == 2 * 2 * 7


async def test_cancel_after_the_point_of_no_return_is_409_with_the_reason(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    release = threading.Event()
    real = PurgeActivities(session_factory)

    @activity.defn(name="purge_project")
    def held_purge(step: ProjectStep) -> ProjectPurgeResult:
        release.wait(timeout=60)
        return real.purge_project(step)

    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory, [held_purge]) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as client:
        try:
            started = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                        json={"confirm_name": org.org.name,
                                              "grace_seconds": 0})
            assert started.status_code == 202, started.text
            await eventually(lambda: teardown_status(client, org_id, admin),
                             lambda s: s["current_step"] == "purge_projects")
            refused = await client.post(f"/orgs/{org_id}/teardown/cancel", headers=admin)
        finally:
            release.set()
        await eventually(lambda: teardown_status(client, org_id, OPERATOR),
                         lambda s: s["status"] == "completed")
    body = problem(refused, 409, "teardown-not-cancellable")
    assert body["detail"].startswith("the point of no return has passed"), body["detail"]
    assert body["workflow_id"] == f"org-teardown-{org_id}"


async def test_blocked_and_unknown_teardowns(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    blocked = seed_with_keys(session_factory, settings,
                             OrgShape(projects=2, unpaid_invoices=1, invoices=1))
    org_id, admin = blocked.org.org_id, bearer(blocked.admin)
    temporal = time_skipping_env.client
    async with api_client(api_settings(settings), temporal) as client:
        plan = (await client.get(f"/orgs/{org_id}/teardown/plan", headers=admin)).json()
        refused = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                    json={"confirm_name": blocked.org.name})
        nothing = await client.get(f"/orgs/{org_id}/teardown", headers=admin)
        no_cancel = await client.post(f"/orgs/{org_id}/teardown/cancel", headers=admin)
        gone = await client.get("/orgs/00000000000000000000000000000000/teardown",
                                headers=OPERATOR)
    assert plan["blocked"]
    body = problem(refused, 409, "teardown-blocked")
    assert [b["code"] for b in body["blockers"]] == ["unpaid_invoices"]
    problem(nothing, 404)
    problem(no_cancel, 404)
    problem(gone, 404)
    with session_factory() as session:
        row = session.get(Organization, org_id)
        assert row is not None and row.status is OrgStatus.ACTIVE
