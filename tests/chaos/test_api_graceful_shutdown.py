"""SIGTERM to an API replica: it stops accepting, finishes what is in flight, and exits cleanly.

The replica is a real uvicorn process on the run's PostgreSQL database and the dev server. The
requests in flight are subscribes: each starts its workflow, then waits up to
`LIFECYCLE_API_WORKFLOW_WAIT_SECONDS` for the result. No worker polls the replica's task queue,
so each stays in its handler for that whole wait, and the test knows a request is in flight
once its workflow exists. SIGTERM lands while all of them wait: a new connection is refused at
once, every request in flight still gets its full answer (202, pending), and the process exits
by itself once its lifespan has closed the pool and the Temporal client.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from contracts.subscriptions import subscription_create_workflow_id
from core.settings import Settings
from tests.chaos.support import SCALE, ApiProcess
from tests.support.api_support import api_settings, bearer, seed_with_keys
from tests.support.teardown_support import eventually

IN_FLIGHT = 4 * SCALE
WAIT_S = 4  # how long each request stays in its handler


async def _answers(url: str) -> str:
    """'up', or the kind of failure a new connection meets ('refused')."""
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(url + "/healthz")
    except httpx.ConnectError:
        return "refused"
    return "up" if response.status_code == 200 else f"status {response.status_code}"


async def _started(client: Client, workflow_ids: list[str]) -> int:
    count = 0
    for workflow_id in workflow_ids:
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            continue
        count += 1
    return count


async def test_sigterm_finishes_requests_in_flight(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    settings = api_settings(Settings(database_url=postgres_url, data_dir=tmp_path))
    org = seed_with_keys(pg_sessions, settings)
    client = local_temporal.client
    replica = ApiProcess(postgres_url, client.service_client.config.target_host,
                         f"unpolled-{uuid.uuid4().hex[:8]}", tmp_path,
                         env={"LIFECYCLE_API_WORKFLOW_WAIT_SECONDS": str(WAIT_S)},
                         log_path=tmp_path / "api.log", log_level="info")
    replica.start()
    keys = [f"graceful-{uuid.uuid4().hex[:8]}" for _ in range(IN_FLIGHT)]
    workflow_ids = [subscription_create_workflow_id(org.org.org_id, key) for key in keys]
    try:
        await eventually(lambda: _answers(replica.base_url), lambda s: s == "up", 30)
        async with httpx.AsyncClient(base_url=replica.base_url, timeout=30) as http:
            in_flight = [asyncio.ensure_future(http.post(
                f"/orgs/{org.org.org_id}/subscriptions",
                headers={**bearer(org.admin), "Idempotency-Key": key},
                json={"kind": "job_plan", "plan": f"job-plan-graceful-{i}"}))
                for i, key in enumerate(keys)]
            await eventually(lambda: _started(client, workflow_ids), lambda n: n == IN_FLIGHT,
                             20)
            replica.signal(signal.SIGTERM)
            await eventually(lambda: _answers(replica.base_url), lambda s: s == "refused", 10)
            still_waiting = sum(not task.done() for task in in_flight)
            answers = await asyncio.gather(*in_flight)
        assert replica.process is not None
        exit_status = await asyncio.to_thread(replica.process.wait, 30)
    finally:
        replica.kill()
        for workflow_id in workflow_ids:  # nobody will run them: end them
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(workflow_id).terminate("test over")
    assert still_waiting > 0, "every request ended before the replica stopped accepting"
    assert [r.status_code for r in answers] == [202] * IN_FLIGHT, [r.text for r in answers]
    assert all(r.json()["pending"] is True for r in answers)
    # uvicorn re-raises the signal it shut down on once it is done: -SIGTERM is a clean end
    assert exit_status in (0, -signal.SIGTERM)
    log = (tmp_path / "api.log").read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log, log
    print(f"SIGTERM with {still_waiting}/{IN_FLIGHT} requests in flight: new connections "
          "refused at once, every request answered 202, shutdown complete")
