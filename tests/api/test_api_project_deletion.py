"""Deleting a project over HTTP: real app, both databases, the time-skipping Temporal server
and the real worker, so each deletion runs `ProjectDeletionWorkflow` on its request row."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.signing import verify
from services.seeding import OrgShape
from store.models import ProjectStatus
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys
from tests.support.db_snapshot import changed, fingerprint
from tests.support.deletion_support import project_counts, status_of
from tests.support.teardown_support import eventually, teardown_worker

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=9,
                 project_keys_per_project=1, usage_records=0, invoices=0)


async def _status(api: httpx.AsyncClient, path: str, key: str) -> dict[str, Any]:
    response = await api.get(path, headers=bearer(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_request_watch_cancel_then_delete(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, project = org.org.org_id, org.org.project_ids[0]
    path = f"/orgs/{org_id}/projects/{project}/deletion"
    admin = bearer(org.admin)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), client) as api:
        before = fingerprint(session_factory)
        wrong_name = await api.post(path, headers=admin, json={"confirm_name": "nope"})
        member = await api.post(path, headers=bearer(org.member),
                                json={"confirm_name": "project-0"})
        assert changed(before, fingerprint(session_factory)) in ([], ["api_keys"])
        started = await api.post(path, headers=admin,
                                 json={"confirm_name": "project-0", "grace_seconds": 3600})
        twice = await api.post(path, headers=admin, json={"confirm_name": "project-0"})
        grace = await eventually(lambda: _status(api, path, org.admin),
                                 lambda s: s["status"] == "grace")
        own_key = await api.get(f"/orgs/{org_id}/projects/{project}", headers=bearer(org.project))
        cancelled = await api.post(f"{path}/cancel", headers=admin)
        after_cancel = await _status(api, path, org.admin)
        again = await api.post(path, headers=admin,
                               json={"confirm_name": "project-0", "grace_seconds": 0})
        done = await eventually(lambda: _status(api, path, org.admin),
                                lambda s: s["status"] == "completed")
        too_late = await api.post(f"{path}/cancel", headers=admin)
        gone = await api.get(f"/orgs/{org_id}/projects/{project}", headers=admin)
        key_gone = await api.get(f"/orgs/{org_id}/projects/{project}",
                                 headers=bearer(org.project))
        plan = await api.get(f"/orgs/{org_id}/teardown/plan", headers=admin)

    # the seeded project key and the one `seed_with_keys` minted for the first project
    expected = {**project_counts(SHAPE), "api_keys": 2}
    problem(wrong_name, 422, "invalid-input")
    problem(member, 403, "not-permitted")
    assert started.status_code == 202, started.text
    request_id = started.json()["request_id"]
    assert started.json()["workflow_id"] == f"project-deletion-{project}"
    body = problem(twice, 409, "project-deletion-running")
    assert body["request_id"] == request_id
    assert grace["cancellable"] is True and grace["request_status"] == "running"
    assert grace["snapshot"] == expected
    problem(own_key, 403, "project-frozen")
    assert cancelled.status_code == 200 and cancelled.json()["accepted"] is True
    assert after_cancel["status"] == "cancelled" and after_cancel["request_status"] == "cancelled"
    assert again.status_code == 202 and again.json()["request_id"] != request_id
    assert done["certificate"]["counts"] == expected
    assert done["records_purged"] == expected["dataset_records"]
    assert done["certificate"]["requested_by"] == f"key:{org.admin[:12]}"
    signed, kid = verify(done["certificate"]["signed"].encode(), settings.certificate_keys)
    assert (signed["kind"], signed["project_id"]) == ("project-deletion", project)
    assert signed["counts"] == expected and kid in settings.certificate_keys
    problem(too_late, 409, "project-deletion-not-cancellable")
    problem(gone, 404, "not-found")
    problem(key_gone, 401)  # the project's key went with it
    assert "project_deletions_running" not in {b["code"] for b in plan.json()["blockers"]}
    assert status_of(session_factory, org.org.project_ids[1]) is ProjectStatus.ACTIVE


async def test_status_without_any_request_is_404(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    path = f"/orgs/{org.org.org_id}/projects/{org.org.project_ids[0]}/deletion"
    async with api_client(api_settings(settings), time_skipping_env.client) as api:
        missing = await api.get(path, headers=bearer(org.admin))
        cancel = await api.post(f"{path}/cancel", headers=bearer(org.admin))
    problem(missing, 404)
    problem(cancel, 404)
