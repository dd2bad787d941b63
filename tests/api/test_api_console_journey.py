"""The console's whole domain as a user drives it, over HTTP only, from nothing: the operator
creates an org, its admin invites two members who accept from their mails, projects, datasets
and records are made and read back, plans subscribed, team and project keys made, quotas and
service permissions set, a member removed (their key refused at once), a project deleted, the
audit log read and exported, then the org torn down; afterwards nothing of it is left in any
table of the live schema.

Nothing is written to the database but through the API; it is read only for the invitation
tokens (what the mail carries) and the final leftover walk. Each phase's time is printed (`-s`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.support.api_support import OPERATOR_TOKEN, api_client, api_settings, bearer
from tests.support.leftovers import fk_leftovers, id_leftovers
from tests.support.member_support import mailed_token
from tests.support.teardown_support import eventually, teardown_worker

RECORDS_PER_UPLOAD = 500
ORG_NAME = "Journey Research"


class Clock:
    def __init__(self) -> None:
        self.phases: list[tuple[str, float]] = []
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases.append((phase, now - self.last))
        self.last = now


async def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    resolved: httpx.Response = await response
    assert resolved.status_code == status, resolved.text
    body: dict[str, Any] = resolved.json()
    return body


async def test_the_whole_console_domain_end_to_end(
        time_skipping_env: WorkflowEnvironment, engine: Engine,
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    clock = Clock()
    temporal = time_skipping_env.client
    operator = bearer(OPERATOR_TOKEN)
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as api:
        created = await _ok(api.post("/orgs", headers=operator, json={
            "name": ORG_NAME, "admin_email": "ada@journey.example", "admin_name": "Ada"}), 201)
        org_id, admin = created["org"]["id"], bearer(created["key"]["secret"])
        ids: set[str] = {org_id, created["admin"]["id"], created["key"]["key"]["id"]}
        listed = await _ok(api.get("/ops/orgs", headers=operator, params={"q": "Journey"}))
        assert org_id in [o["id"] for o in listed["items"]]
        await _ok(api.put(f"/orgs/{org_id}/payment-method", headers=admin, json={
            "token": "tok_journey", "brand": "visa", "last4": "4242", "exp_month": 12,
            "exp_year": 2099}))
        clock.lap("org created, card on file")

        members: dict[str, dict[str, Any]] = {}
        for name in ("grace", "alan"):
            invited = await _ok(api.post(f"/orgs/{org_id}/invitations", headers=admin,
                                         json={"email": f"{name}@journey.example"}), 201)
            token = mailed_token(session_factory, invited["id"])  # written with the invite
            joined = await _ok(api.post(f"/orgs/{org_id}/invitations/accept",
                                        json={"token": token, "name": name.title()}), 201)
            members[name] = joined
            ids |= {invited["id"], joined["member"]["id"], joined["key"]["key"]["id"]}
        replay = await api.post(f"/orgs/{org_id}/invitations/accept",
                                json={"token": token, "name": "again"})
        assert replay.status_code == 400, replay.text  # single use
        roster = await _ok(api.get(f"/orgs/{org_id}/members", headers=admin))
        assert len(roster["items"]) == 3
        grace_id, alan_id = (members[n]["member"]["id"] for n in ("grace", "alan"))
        grace, alan = (bearer(members[n]["key"]["secret"]) for n in ("grace", "alan"))
        clock.lap("2 members invited and joined")

        base = f"/orgs/{org_id}/projects"
        projects = [await _ok(api.post(base, headers=admin, json={"name": name}), 201)
                    for name in ("genomics", "imaging")]
        ids |= {p["id"] for p in projects}
        datasets: dict[str, list[str]] = {}
        for project in projects:
            made = [await _ok(api.post(f"{base}/{project['id']}/datasets", headers=admin,
                                       json={"name": name}), 201) for name in ("raw", "clean")]
            datasets[project["id"]] = [d["id"] for d in made]
            ids |= set(datasets[project["id"]])
        clock.lap("2 projects, 4 datasets")

        genomics, imaging = (p["id"] for p in projects)
        key = await _ok(api.post(f"{base}/{genomics}/keys", headers=admin,
                                 json={"name": "pipeline"}), 201)
        team = await _ok(api.post(f"/orgs/{org_id}/keys", headers=admin,
                                  json={"name": "ci"}), 201)
        ids |= {key["key"]["id"], team["key"]["id"]}
        own = bearer(key["secret"])
        for project_id, dataset_ids in datasets.items():
            for dataset_id in dataset_ids:
                path = f"{base}/{project_id}/datasets/{dataset_id}/records"
                rows = [{"sample": f"{dataset_id[:6]}-{i}", "reads": i}
                        for i in range(RECORDS_PER_UPLOAD)]
                writer = own if project_id == genomics else admin
                await _ok(api.post(path, headers={**writer,
                                                  "Content-Type": "application/x-ndjson"},
                                   content="".join(json.dumps(r) + "\n" for r in rows)), 201)
                await _ok(api.post(path, headers=writer, json=rows), 201)
        clock.lap(f"8 uploads of {RECORDS_PER_UPLOAD} records")

        first = f"{base}/{genomics}/datasets/{datasets[genomics][0]}/records"
        read, cursor = 0, ""
        while True:
            page = await _ok(api.get(first, headers=own, params={"limit": 200,
                                                                 "cursor": cursor}))
            read += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert read == 2 * RECORDS_PER_UPLOAD
        shown = await _ok(api.get(f"{base}/{genomics}", headers=grace))
        assert (shown["datasets"], shown["records"]) == (2, 4 * RECORDS_PER_UPLOAD)
        clock.lap("records read back in pages")

        subs = [await _ok(api.post(f"/orgs/{org_id}/subscriptions",
                                   headers={**admin, "Idempotency-Key": f"journey-{kind}"},
                                   json={"kind": kind, "plan": plan}), 201)
                for kind, plan in (("job_plan", "job-plan-gpu"),
                                   ("workspace_capacity", "workspace-capacity-standard"))]
        ids |= {s["subscription"]["id"] for s in subs}
        for member_id in (grace_id, alan_id):
            await _ok(api.put(f"/orgs/{org_id}/members/{member_id}/quotas/container_compute",
                              headers=admin, json={"limit": 40}))
        await _ok(api.put(f"/orgs/{org_id}/members/{grace_id}/permissions/virtual_compute",
                          headers=admin, json={"enabled": False}))
        refused = await api.get(f"/orgs/{org_id}/quotas", headers=grace,
                                params={"service": "virtual_compute"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("service-not-permitted")
        await _ok(api.get(f"/orgs/{org_id}/quotas", headers=grace,
                          params={"service": "container_compute"}))
        clock.lap("2 subscriptions, 2 quotas, 1 permission")

        await _ok(api.delete(f"/orgs/{org_id}/members/{alan_id}", headers=admin), 202)
        after = await api.get(f"/orgs/{org_id}/members", headers=alan)
        assert after.status_code == 401, after.text  # refused at once, steps or not
        removal = await eventually(
            lambda: _ok(api.get(f"/orgs/{org_id}/members/{alan_id}/removal", headers=admin)),
            lambda r: r["status"] in ("completed", "failed"), timeout=60)
        assert removal["status"] == "completed", removal
        roster = await _ok(api.get(f"/orgs/{org_id}/members", headers=admin))
        assert alan_id not in [m["id"] for m in roster["items"]]
        clock.lap("member removed")

        await _ok(api.post(f"{base}/{imaging}/deletion", headers=admin,
                           json={"confirm_name": "imaging", "grace_seconds": 0}), 202)
        deleted = await eventually(
            lambda: _ok(api.get(f"{base}/{imaging}/deletion", headers=admin)),
            lambda s: s["status"] in ("completed", "failed"), timeout=60)
        assert deleted["certificate"]["counts"] == {
            "api_keys": 0, "dataset_records": 4 * RECORDS_PER_UPLOAD, "datasets": 2,
            "projects": 1}
        clock.lap("project deleted")

        audit = await _ok(api.get(f"/orgs/{org_id}/audit", headers=admin,
                                  params={"limit": 200}))
        actions = {e["action"] for e in audit["items"]}
        assert {"member.invited", "member.joined", "member.removed", "quota.set",
                "service_permission.set"} <= actions, actions
        exported = await api.get(f"/orgs/{org_id}/audit/export", headers=admin)
        assert exported.status_code == 200, exported.text
        lines = [json.loads(line) for line in exported.text.splitlines()]
        assert len(lines) >= len(audit["items"]) and {e["action"] for e in lines} >= actions
        forbidden = await api.get(f"/orgs/{org_id}/audit", headers=grace)
        assert forbidden.status_code == 403, forbidden.text
        usage = await _ok(api.get(f"/orgs/{org_id}/usage", headers=admin))
        invoices = await _ok(api.get(f"/orgs/{org_id}/invoices", headers=admin))
        assert usage["items"] == [] and invoices["items"] == []
        clock.lap("audit, usage and invoices read")

        plan = await _ok(api.get(f"/orgs/{org_id}/teardown/plan", headers=admin))
        assert not plan["blocked"], plan["blockers"]
        await _ok(api.post(f"/orgs/{org_id}/teardown", headers=admin,
                           json={"confirm_name": ORG_NAME, "grace_seconds": 0}), 202)
        done = await eventually(
            lambda: _ok(api.get(f"/orgs/{org_id}/teardown", headers=operator)),
            lambda s: s["status"] in ("completed", "failed"), timeout=60)
        assert done["status"] == "completed", done
        assert done["certificate"]["counts"]["dataset_records"] == 4 * RECORDS_PER_UPLOAD
        clock.lap("org torn down")

    assert fk_leftovers(engine, org_id) == {}
    assert id_leftovers(engine, ids) == {}
    clock.lap("live schema walked")
    total = sum(seconds for _, seconds in clock.phases)
    print(f"\njourney on {settings.database_url.split(':', 1)[0]}: {total:.2f} s; "
          + "; ".join(f"{phase} {seconds:.2f} s" for phase, seconds in clock.phases))

