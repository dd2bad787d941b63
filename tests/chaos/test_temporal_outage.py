"""Temporal's frontend stopped mid-run: prompt 503 problems, then recovery without a restart.

A real dev server with its persistent SQLite file, a `lifecycle worker` child process and the
API in uvicorn on the run's PostgreSQL database. With teardowns and a project deletion in their
grace windows, the server is stopped (SIGTERM): every route that needs Temporal answers a 503
problem with `Retry-After` within the HTTP client's deadline (a hang fails the test), routes
that do not need it still answer, `/readyz` names Temporal, and no refused write changed the
database. The server is started again on the same port and file: without restarting the API
or the worker, `/readyz` turns ready, the same routes answer, and a teardown started after the
outage runs to an exact certificate on the reconnected worker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.deps import get_temporal_client, get_temporal_connection
from core.settings import Settings
from core.temporal import wait_for_poller, wait_until_serving
from store.models import ApiKey, AuditEvent, Organization, Project, Subscription
from store.plan import owned_counts
from tests.chaos.support import DevServer, WorkerProcess
from tests.support.api_support import (
    OPERATOR_TOKEN,
    OrgKeys,
    api_settings,
    bearer,
    problem,
    running_api,
    seed_with_keys,
)
from tests.support.teardown_support import eventually

# Every answer during the outage must come well inside this; a request hanging on an
# unreachable frontend fails with a read timeout instead.
HTTP_DEADLINE_S = 15.0
LONG_GRACE_S = 3600
OPERATOR = bearer(OPERATOR_TOKEN)
KEPT_REQUESTS = ("project.deletion_requested", "member.removal_requested")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None


def _temporal_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every API route that depends on the Temporal client."""

    def needs(dep: Dependant) -> bool:
        return dep.call in (get_temporal_client, get_temporal_connection) or any(
            needs(sub) for sub in dep.dependencies)

    def routes(items: list[Any]) -> Iterator[APIRoute]:
        for item in items:
            if isinstance(item, APIRoute):
                yield item
            elif hasattr(item, "original_router"):  # an included router, as FastAPI keeps it
                yield from routes(item.original_router.routes)

    return {(method, route.path) for route in routes(app.routes)
            if needs(route.dependant) for method in route.methods or ()}


def _project_name(sessions: sessionmaker[Session], project_id: str) -> str:
    with sessions() as session:
        return str(session.scalar(select(Project.name).where(Project.id == project_id)))


def _sub_id(sessions: sessionmaker[Session], org_id: str, plan_prefix: str) -> str:
    with sessions() as session:
        return str(session.scalars(select(Subscription.id).where(
            Subscription.org_id == org_id, Subscription.plan.startswith(plan_prefix))).first())


def _fingerprint(sessions: sessionmaker[Session], org_ids: list[str]) -> dict[str, Any]:
    """What a refused write would have changed: org statuses, audit and subscription rows."""
    with sessions() as session:
        return {
            "statuses": dict(session.execute(select(Organization.id, Organization.status)
                                             .where(Organization.id.in_(org_ids))).all()),
            # A project deletion's or a member removal's request row (and its audit) is
            # kept on purpose when Temporal is away, so asking again starts the workflow:
            # those actions are left out.
            "audit": session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.org_id.in_(org_ids),
                AuditEvent.action.not_in(KEPT_REQUESTS))),
            "subscriptions": sorted(session.execute(
                select(Subscription.id, Subscription.status)
                .where(Subscription.org_id.in_(org_ids))).all()),
        }


@dataclass
class Scene:
    """The orgs the run acts on; `calls` names one request per Temporal route."""

    torn: OrgKeys  # a teardown in its grace window before the outage
    later: OrgKeys  # its teardown is first asked for during the outage
    other: OrgKeys  # a project deletion in its grace window, subscriptions
    sessions: sessionmaker[Session]

    def calls(self) -> dict[tuple[str, str], Call]:
        torn, later, other = self.torn.org, self.later.org, self.other.org
        a_torn, a_later, a_other = (bearer(k.admin) for k in (self.torn, self.later, self.other))
        later_confirm = {"confirm_name": later.name, "grace_seconds": 0}
        pid = other.project_ids[0]
        deletion = f"/orgs/{other.org_id}/projects/{pid}/deletion"
        second = other.project_ids[1]
        job = _sub_id(self.sessions, other.org_id, "job-plan-")
        return {
            ("POST", "/orgs/{org_id}/teardown"):
                Call("POST", f"/orgs/{later.org_id}/teardown", a_later, later_confirm),
            ("GET", "/orgs/{org_id}/teardown"):
                Call("GET", f"/orgs/{torn.org_id}/teardown", a_torn),
            ("POST", "/orgs/{org_id}/teardown/cancel"):
                Call("POST", f"/orgs/{torn.org_id}/teardown/cancel", a_torn, {"reason": "x"}),
            ("POST", "/orgs/{org_id}/teardown/expedite"):
                Call("POST", f"/orgs/{torn.org_id}/teardown/expedite", a_torn),
            ("POST", "/orgs/{org_id}/projects/{project_id}/deletion"):
                Call("POST", f"/orgs/{other.org_id}/projects/{second}/deletion", a_other,
                     {"confirm_name": _project_name(self.sessions, second),
                      "grace_seconds": LONG_GRACE_S}),
            ("GET", "/orgs/{org_id}/projects/{project_id}/deletion"):
                Call("GET", deletion, a_other),
            ("POST", "/orgs/{org_id}/projects/{project_id}/deletion/cancel"):
                Call("POST", deletion + "/cancel", a_other),
            ("POST", "/orgs/{org_id}/projects/{project_id}/deletion/expedite"):
                Call("POST", deletion + "/expedite", a_other),
            ("POST", "/orgs/{org_id}/subscriptions"):
                Call("POST", f"/orgs/{other.org_id}/subscriptions",
                     {**a_other, "Idempotency-Key": f"outage-{uuid.uuid4().hex[:8]}"},
                     {"kind": "job_plan", "plan": "job-plan-outage"}),
            ("POST", "/orgs/{org_id}/subscriptions/{sub_id}/unsubscribe"):
                Call("POST", f"/orgs/{other.org_id}/subscriptions/{job}/unsubscribe", a_other),
            ("POST", "/orgs/{org_id}/workspace-capacity/cancel"):
                Call("POST", f"/orgs/{other.org_id}/workspace-capacity/cancel", a_other),
            ("DELETE", "/orgs/{org_id}/members/{member_id}"):
                Call("DELETE", f"/orgs/{other.org_id}/members/{self.other.member_id}",
                     a_other),
            ("GET", "/ops/workflows"): Call("GET", "/ops/workflows", OPERATOR),
            ("GET", "/ops/workflows/{workflow_id}"):
                Call("GET", f"/ops/workflows/org-teardown-{torn.org_id}", OPERATOR),
            ("GET", "/ops/workflows/{workflow_id}/history"):
                Call("GET", f"/ops/workflows/org-teardown-{torn.org_id}/history", OPERATOR),
            ("GET", "/ops/schedules/key-expiry-sweep"):
                Call("GET", "/ops/schedules/key-expiry-sweep", OPERATOR),
            ("POST", "/ops/schedules/key-expiry-sweep/pause"):
                Call("POST", "/ops/schedules/key-expiry-sweep/pause", OPERATOR),
            ("POST", "/ops/schedules/key-expiry-sweep/unpause"):
                Call("POST", "/ops/schedules/key-expiry-sweep/unpause", OPERATOR),
            ("POST", "/ops/schedules/key-expiry-sweep/trigger"):
                Call("POST", "/ops/schedules/key-expiry-sweep/trigger", OPERATOR),
            ("GET", "/readyz"): Call("GET", "/readyz", {}),
        }


async def _send(http: httpx.AsyncClient, call: Call) -> httpx.Response:
    return await http.request(call.method, call.path, headers=call.headers, json=call.body)


async def _send_all(http: httpx.AsyncClient, calls: dict[tuple[str, str], Call]
                    ) -> dict[tuple[str, str], httpx.Response]:
    """Every call at once, as concurrent clients would send them."""
    answers = await asyncio.gather(*(_send(http, call) for call in calls.values()))
    return dict(zip(calls, answers, strict=True))


async def test_temporal_stopped_then_back(pg_sessions: sessionmaker[Session], postgres_url: str,
                                          tmp_path: Path) -> None:
    server = DevServer(tmp_path / "temporal.db")
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    settings = api_settings(Settings(database_url=postgres_url, data_dir=tmp_path,
                                     temporal_address=server.address, task_queue=queue))
    scene = Scene(seed_with_keys(pg_sessions, settings), seed_with_keys(pg_sessions, settings),
                  seed_with_keys(pg_sessions, settings), pg_sessions)
    # The sweep triggered after the restart runs beside the later org's teardown; with none of
    # that org's keys due it adds no reminder row there, so its certificate must equal exactly
    # what the org owned before the outage.
    with pg_sessions.begin() as session:
        session.execute(update(ApiKey).where(ApiKey.org_id == scene.later.org.org_id)
                        .values(expires_at=datetime.now(UTC) + timedelta(days=200)))
    calls = scene.calls()
    assert _temporal_routes(create_app(settings)) == set(calls), \
        "a route that needs Temporal has no call in this test"
    other = scene.other.org
    worker = WorkerProcess(postgres_url, server.address, queue, tmp_path,
                           log_path=tmp_path / "worker.log")
    server.start()
    try:
        await wait_until_serving(server.address, "default", deadline_s=60)
        worker.start()
        async with running_api(settings) as base, \
                httpx.AsyncClient(base_url=base, timeout=HTTP_DEADLINE_S) as http:
            await eventually(lambda: http.get("/readyz"), lambda r: r.status_code == 200, 60)
            torn = scene.torn.org
            started = await http.post(f"/orgs/{torn.org_id}/teardown",
                                      headers=bearer(scene.torn.admin),
                                      json={"confirm_name": torn.name,
                                            "grace_seconds": LONG_GRACE_S})
            assert started.status_code == 202, started.text
            deletion = await http.post(
                f"/orgs/{other.org_id}/projects/{other.project_ids[0]}/deletion",
                headers=bearer(scene.other.admin),
                json={"confirm_name": _project_name(pg_sessions, other.project_ids[0]),
                      "grace_seconds": LONG_GRACE_S})
            assert deletion.status_code == 202, deletion.text
            status = calls[("GET", "/orgs/{org_id}/teardown")]
            await eventually(lambda: _send(http, status), lambda r: r.status_code == 200, 60)

            with pg_sessions() as session:  # what the later teardown must certify
                expected = owned_counts(session, scene.later.org.org_id)
            server.stop()
            ids = [scene.torn.org.org_id, scene.later.org.org_id, other.org_id]
            before = _fingerprint(pg_sessions, ids)
            sent_at = time.monotonic()
            answers = await _send_all(http, calls)
            outage_answered_s = time.monotonic() - sent_at
            for route, response in answers.items():
                if route == ("GET", "/readyz"):
                    assert response.status_code == 503, response.text
                    checks = response.json()["checks"]
                    assert checks["temporal"]["ok"] is False and checks["temporal"]["error"]
                    assert checks["database"]["ok"] is True
                    continue
                body = problem(response, 503, "unavailable")
                assert response.headers["retry-after"], route
                assert "Traceback" not in response.text, body
            unaffected = await http.get(f"/orgs/{other.org_id}/keys",
                                        headers=bearer(scene.other.admin))
            assert unaffected.status_code == 200, unaffected.text
            during = _fingerprint(pg_sessions, ids)

            server.start()
            client = await wait_until_serving(server.address, "default", deadline_s=60)
            # the worker process reconnects by itself: its pollers come back on the queue
            await wait_for_poller(client, queue, deadline_s=60)
            await eventually(lambda: http.get("/readyz"), lambda r: r.status_code == 200, 60)
            after = await _send_all(http, calls)
            server_errors = {route: r.text for route, r in after.items() if r.status_code >= 500}
            assert not server_errors, server_errors
            assert after[("POST", "/orgs/{org_id}/teardown")].status_code == 202
            later_status = calls[("POST", "/orgs/{org_id}/teardown")]
            done = await eventually(
                lambda: http.get(later_status.path, headers=OPERATOR),  # its keys are revoked
                lambda r: r.status_code == 200 and r.json().get("status") == "completed", 120)
    finally:
        worker.stop()
        server.stop()
    # The refused writes left nothing: no status change, audit event or subscription row.
    assert during == before, (before, during)
    certificate = done.json()["certificate"]
    assert certificate["counts"] == expected
    print(f"Temporal stopped: {len(answers) - 1} Temporal routes answered 503 with Retry-After"
          f" (all within {outage_answered_s:.1f} s);"
          f" after the restart none answered 5xx and a new teardown completed exactly "
          f"({sum(certificate['counts'].values())} rows)")
