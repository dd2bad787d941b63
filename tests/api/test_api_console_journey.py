"""The console's projects half as a user drives it, over HTTP only, from an org that has just
its admin and a card: projects, datasets, records uploaded and read back, subscriptions, keys
(a project key writing its own project), a quota, a project deleted, usage and invoices read,
then the org torn down; afterwards nothing of it is left in any table of the live schema.

The org itself is still made by the seed (the member and org routes are not part of this
branch); from then on the database is only read. Each phase's time is printed (`-s`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.models import Member, Role
from tests.support.api_support import OPERATOR_TOKEN, api_client, api_settings, bearer, mint
from tests.support.leftovers import fk_leftovers, id_leftovers
from tests.support.teardown_support import eventually, teardown_worker

BARE = OrgShape(projects=0, datasets_per_project=0, records_per_dataset=0, members=2,
                team_keys=1, project_keys_per_project=0, job_plans=0,
                workspace_capacity=False, usage_records=0, invoices=0, key_tombstones=0,
                reminders=0)
RECORDS_PER_UPLOAD = 500


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


async def test_the_projects_half_of_the_console_end_to_end(
        time_skipping_env: WorkflowEnvironment, engine: Engine,
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    with session_factory.begin() as session:
        seeded = seed_org(session, BARE, settings.pepper_bytes)
        member_id = session.scalars(select(Member.id).where(
            Member.org_id == seeded.org_id, Member.role == Role.MEMBER)).one()
    member_key = mint(session_factory, settings, seeded.org_id, member_id)
    org_id, admin = seeded.org_id, bearer(seeded.admin_key)
    ids: set[str] = {org_id, seeded.admin_member_id, member_id}
    clock = Clock()
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as api:
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
        shown = await _ok(api.get(f"{base}/{genomics}", headers=bearer(member_key)))
        assert (shown["datasets"], shown["records"]) == (2, 4 * RECORDS_PER_UPLOAD)
        clock.lap("records read back in pages")

        subs = [await _ok(api.post(f"/orgs/{org_id}/subscriptions",
                                   headers={**admin, "Idempotency-Key": f"journey-{kind}"},
                                   json={"kind": kind, "plan": plan}), 201)
                for kind, plan in (("job_plan", "job-plan-gpu"),
                                   ("workspace_capacity", "workspace-capacity-standard"))]
        ids |= {s["subscription"]["id"] for s in subs}
        await _ok(api.put(f"/orgs/{org_id}/members/{member_id}/quotas/container_compute",
                          headers=admin, json={"limit": 40}))
        clock.lap("2 subscriptions, 1 quota")

        await _ok(api.post(f"{base}/{imaging}/deletion", headers=admin,
                           json={"confirm_name": "imaging", "grace_seconds": 0}), 202)
        deleted = await eventually(
            lambda: _ok(api.get(f"{base}/{imaging}/deletion", headers=admin)),
            lambda s: s["status"] in ("completed", "failed"), timeout=60)
        assert deleted["certificate"]["counts"] == {
            "api_keys": 0, "dataset_records": 4 * RECORDS_PER_UPLOAD, "datasets": 2,
            "projects": 1}
        clock.lap("project deleted")

        usage = await _ok(api.get(f"/orgs/{org_id}/usage", headers=admin))
        invoices = await _ok(api.get(f"/orgs/{org_id}/invoices", headers=admin))
        assert usage["items"] == [] and invoices["items"] == []
        plan = await _ok(api.get(f"/orgs/{org_id}/teardown/plan", headers=admin))
        assert not plan["blocked"], plan["blockers"]
        await _ok(api.post(f"/orgs/{org_id}/teardown", headers=admin,
                           json={"confirm_name": seeded.name, "grace_seconds": 0}), 202)
        done = await eventually(
            lambda: _ok(api.get(f"/orgs/{org_id}/teardown",
                                headers=bearer(OPERATOR_TOKEN))),
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
