"""A seeded org's rows have the shape of an org made through the API, table by table.

The seed builds orgs through the API's own service and store functions, and the benchmarks'
bulk key loader writes key rows directly; both must keep writing what the API writes. An org
is made over HTTP alone (create, card, an accepted invitation, a project with a dataset and
records, team and project keys, two subscriptions through the gateway workflow, quotas and a
service permission), another is seeded with the same parts plus bulk-loaded keys, and for every
table both touch the two orgs must show the same row shapes (which columns are non-null) and
the same enum values. A column the seed forgets, or an enum value only the seed uses, fails.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Enum, Table, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.base import Base, utcnow
from store.bulk import insert_keys
from store.seeding import expiring_keys
from tests.support.api_support import OPERATOR_TOKEN, api_client, api_settings, bearer
from tests.support.member_support import mailed_token
from tests.support.teardown_support import teardown_worker

SHAPE = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=3, members=2,
                 team_keys=2, project_keys_per_project=1, job_plans=1, workspace_capacity=True,
                 usage_records=0, invoices=0, key_tombstones=0, reminders=0, permissions_off=1)
TABLES = ("organizations", "members", "payment_methods", "subscriptions", "projects",
          "datasets", "dataset_records", "api_keys", "quotas", "service_permissions",
          "audit_events")
# Columns that using an org fills in, not making it: the API org's admin key signs requests.
USE = {"api_keys": {"last_used_at"}}
Shape = tuple[set[frozenset[str]], dict[str, set[Any]]]


async def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    resolved: httpx.Response = await response
    assert resolved.status_code == status, resolved.text
    body: dict[str, Any] = resolved.json()
    return body


async def _api_org(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> str:
    created = await _ok(api.post("/orgs", headers=bearer(OPERATOR_TOKEN), json={
        "name": "Shape Research", "admin_email": "ada@shape.example", "admin_name": "Ada"}), 201)
    org_id, admin = created["org"]["id"], bearer(created["key"]["secret"])
    await _ok(api.put(f"/orgs/{org_id}/payment-method", headers=admin, json={
        "token": "tok_shape", "brand": "visa", "last4": "4242", "exp_month": 12,
        "exp_year": 2099}))
    invited = await _ok(api.post(f"/orgs/{org_id}/invitations", headers=admin,
                                 json={"email": "grace@shape.example"}), 201)
    joined = await _ok(api.post(f"/orgs/{org_id}/invitations/accept", json={
        "token": mailed_token(sessions, invited["id"]), "name": "Grace"}), 201)
    project = await _ok(api.post(f"/orgs/{org_id}/projects", headers=admin,
                                 json={"name": "genomics"}), 201)
    base = f"/orgs/{org_id}/projects/{project['id']}"
    dataset = await _ok(api.post(f"{base}/datasets", headers=admin, json={"name": "raw"}), 201)
    await _ok(api.post(f"{base}/datasets/{dataset['id']}/records", headers=admin,
                       json=[{"seq": i} for i in range(3)]), 201)
    await _ok(api.post(f"{base}/keys", headers=admin, json={"name": "pipeline"}), 201)
    await _ok(api.post(f"/orgs/{org_id}/keys", headers=admin, json={"name": "ci"}), 201)
    for kind, plan in (("job_plan", "job-plan-0"),
                       ("workspace_capacity", "workspace-capacity-standard")):
        await _ok(api.post(f"/orgs/{org_id}/subscriptions",
                           headers={**admin, "Idempotency-Key": f"shape-{kind}"},
                           json={"kind": kind, "plan": plan}), 201)
    for member_id in (created["admin"]["id"], joined["member"]["id"]):
        for service in ("container_compute", "virtual_compute"):
            await _ok(api.put(f"/orgs/{org_id}/members/{member_id}/quotas/{service}",
                              headers=admin, json={"limit": 40}))
    await _ok(api.put(f"/orgs/{org_id}/members/{joined['member']['id']}/permissions/"
                      "virtual_compute", headers=admin, json={"enabled": False}))
    return str(org_id)


def _seeded_org(sessions: sessionmaker[Session], settings: Settings) -> str:
    now = utcnow()
    with sessions.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes, rng=random.Random(3))
        insert_keys(session, expiring_keys([(org.org_id, org.admin_member_id)], 3,
                                           lambda i: now + timedelta(days=i + 1),
                                           created_at=now))
    return org.org_id


def _shape(session: Session, table: Table, org_id: str) -> Shape:
    if table.name == "organizations":
        query = select(table).where(table.c.id == org_id)
    elif "org_id" in table.c:
        query = select(table).where(table.c.org_id == org_id)
    else:  # dataset records belong to the org through their dataset
        datasets = Base.metadata.tables["datasets"]
        query = select(table).join(datasets, table.c.dataset_id == datasets.c.id).where(
            datasets.c.org_id == org_id)
    rows = [row._mapping for row in session.execute(query)]
    assert rows, f"no {table.name} rows for org {org_id}"
    ignored = USE.get(table.name, set())
    non_null = {frozenset(c for c, v in row.items() if v is not None and c not in ignored)
                for row in rows}
    enums = {c.name: {row[c.name] for row in rows} for c in table.c
             if isinstance(c.type, Enum)}
    return non_null, enums


async def test_a_seeded_org_has_the_rows_of_an_api_made_org(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as api:
        api_org = await _api_org(api, session_factory)
    seeded = _seeded_org(session_factory, settings)
    with session_factory() as session:
        for name in TABLES:
            table = Base.metadata.tables[name]
            assert _shape(session, table, seeded) == _shape(session, table, api_org), name
