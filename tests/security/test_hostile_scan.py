"""After a run of hostile inputs, no card number and no key secret is anywhere at rest.

Every text a client can send is tried with card numbers in each shape that once got through
(escaped, separated, glued, invisible separators) and with a live key secret pasted in: org
settings, the payment token, key, project and dataset names, records, bulk-delete bodies,
invitations, a subscription's idempotency key (body and header: it reaches Temporal), a
teardown's confirmation and cancel reason. Then every column of every table, and the decoded
payloads of every workflow history the run made, are scanned by shape (anything Luhn-valid,
anything in the key format), on both databases.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from contracts.teardown import teardown_workflow_id
from core.settings import Settings
from services.seeding import OrgShape
from tests.security.hostile import CARD_NUMBERS, SHAPES, escaped, json_with_escaped
from tests.security.scan import database_texts, findings, history_texts
from tests.support.api_support import api_client, api_settings, bearer, seed_with_keys
from tests.support.teardown_support import eventually, teardown_worker

SHAPE = OrgShape(projects=1, datasets_per_project=0, records_per_dataset=0, members=2,
                 team_keys=1, project_keys_per_project=1, job_plans=0, usage_records=0,
                 invoices=0, workspace_capacity=False)
CARD = {"brand": "visa", "last4": "1111", "exp_month": 12, "exp_year": 2099}
JSON = {"Content-Type": "application/json"}
CANARY = "scan-canary-7f3a"


async def _hostile_run(api: httpx.AsyncClient, org_id: str, admin: str, secret: str,
                       name: str) -> tuple[list[httpx.Response], list[str]]:
    """Every hostile request (all must be refused) and the workflow ids the run made."""
    auth = bearer(admin)
    values = [*SHAPES, *CARD_NUMBERS, f"see {secret}_x", f"k={secret}"]
    refused: list[httpx.Response] = []
    project = await api.post(f"/orgs/{org_id}/projects", headers=auth, json={"name": CANARY})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    dataset = await api.post(f"/orgs/{org_id}/projects/{project_id}/datasets", headers=auth,
                             json={"name": "scan"})
    assert dataset.status_code == 201, dataset.text
    records = f"/orgs/{org_id}/projects/{project_id}/datasets/{dataset.json()['id']}/records"
    for value in values:
        sends: list[tuple[str, str, dict[str, Any]]] = [
            ("PATCH", f"/orgs/{org_id}", {"description": value}),
            ("PATCH", f"/orgs/{org_id}", {"name": value}),
            ("PUT", f"/orgs/{org_id}/payment-method", {"token": value, **CARD}),
            ("POST", f"/orgs/{org_id}/keys", {"name": value, "expires_in_days": 30}),
            ("POST", f"/orgs/{org_id}/projects", {"name": value}),
            ("POST", f"/orgs/{org_id}/projects/{project_id}/datasets", {"name": value}),
            ("POST", f"/orgs/{org_id}/keys/bulk-delete", {"ids": [value], "confirm": value}),
            ("POST", f"/orgs/{org_id}/invitations", {"email": f"{value}@acme.example"}),
            ("POST", f"/orgs/{org_id}/subscriptions",
             {"kind": "job_plan", "plan": "job-plan-gpu", "idempotency_key": value}),
            ("POST", f"/orgs/{org_id}/teardown", {"confirm_name": value}),
        ]
        for method, path, body in sends:
            refused.append(await api.request(method, path, headers=auth, json=body))
        refused.append(await api.request(
            "PATCH", f"/orgs/{org_id}", headers={**auth, **JSON},
            content=json_with_escaped({}, "description", value)))
        refused.append(await api.post(records, headers=auth, json=[{"note": value}]))
        refused.append(await api.post(records, headers={**auth, "Content-Type":
                                                        "application/x-ndjson"},
                                      content=f'{{"n": {escaped(value)}}}\n'.encode()))
        if value.isascii():  # an HTTP header carries ASCII only
            refused.append(await api.post(f"/orgs/{org_id}/subscriptions", headers={
                **auth, "Idempotency-Key": value.replace(" ", "")},
                json={"kind": "job_plan", "plan": "job-plan-gpu"}))
    subscribed = await api.post(f"/orgs/{org_id}/subscriptions",
                                headers={**auth, "Idempotency-Key": "order-ok"},
                                json={"kind": "job_plan", "plan": "job-plan-gpu"})
    assert subscribed.status_code in (200, 201), subscribed.text
    started = await api.post(f"/orgs/{org_id}/teardown", headers=auth,
                             json={"confirm_name": name, "grace_seconds": 3 * 86400})
    assert started.status_code == 202, started.text
    await eventually(lambda: _status(api, org_id, auth), lambda s: s == "grace")
    for value in values:
        refused.append(await api.post(f"/orgs/{org_id}/teardown/cancel", headers=auth,
                                      json={"reason": value}))
    kept = await api.post(f"/orgs/{org_id}/teardown/cancel", headers=auth,
                          json={"reason": CANARY})
    assert kept.status_code == 200 and kept.json()["accepted"], kept.text
    await eventually(lambda: _status(api, org_id, auth), lambda s: s == "cancelled")
    return refused, [subscribed.json()["workflow_id"], teardown_workflow_id(org_id)]


async def _status(api: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> str:
    return str((await api.get(f"/orgs/{org_id}/teardown", headers=headers)).json()["status"])


async def test_no_card_number_or_key_secret_at_rest_after_hostile_inputs(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as api:
        refused, workflow_ids = await _hostile_run(api, org.org.org_id, org.admin, org.member,
                                                   org.org.name)
    accepted = [(r.request.method, r.request.url.path, r.status_code)
                for r in refused if r.status_code < 400]
    assert accepted == [], accepted
    assert all(r.status_code < 500 for r in refused)
    assert not any(secret[12:] in r.text for r in refused for secret in (org.admin, org.member))

    rows = list(database_texts(session_factory))
    assert any(CANARY in text for _, text in rows), "the database scan reads nothing"
    assert findings(iter(rows)) == []
    texts = []
    for workflow_id in workflow_ids:
        history = await temporal.get_workflow_handle(workflow_id).fetch_history()
        texts += history_texts(history)
    assert any(CANARY in text for text in texts), "the history scan reads no payloads"
    assert any("order-ok" in text for text in texts)
    assert findings(("history", text) for text in texts) == []
    assert json.dumps(texts)  # the scanned texts are plain strings
