"""Resident memory of one API process (uvicorn, one event loop) idle and under a read/write mix.

Why: the Kubernetes manifests' memory request and limit come from this figure, so it must be the
real process (`uvicorn api.app:create_app --factory`, as the image runs it) against the real
parts: PostgreSQL, the dev server, and a worker so the keys' writes and the teardown plan
answer as in production. The load is bounded (a fixed number of requests, a fixed concurrency)
and goes to loopback only.

    .venv/bin/python -m bench.api_memory [--requests 4000] [--concurrency 32] [--orgs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import (
    DEV_ENV,
    dev_server,
    peak_rss_mb,
    rss_mb,
    say,
    spawn,
    stop,
    temp_database,
    worker_process,
)
from bench.results import result_line
from core.ports import free_port
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.db import make_engine, make_session_factory

SHAPE = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=50, members=5,
                 team_keys=3)
READY_DEADLINE_S = 60.0


def _paths(org: SeededOrg) -> list[str]:
    """The console's reads of one org: each route family the API serves."""
    base = f"/orgs/{org.org_id}"
    return [base, f"{base}/keys?limit=50", f"{base}/quotas", f"{base}/subscriptions",
            f"{base}/payment-method", f"{base}/teardown/plan",
            f"{base}/projects/{org.project_ids[0]}/keys"]


async def _wait_ready(client: httpx.AsyncClient, api: object) -> None:
    give_up_at = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < give_up_at:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"API not ready after {READY_DEADLINE_S:.0f}s")


async def _load(client: httpx.AsyncClient, orgs: list[SeededOrg], requests: int,
                concurrency: int) -> dict[int, int]:
    """`requests` calls, `concurrency` at once: mostly reads, one key create and delete in 20."""
    jobs: list[tuple[str, str, SeededOrg]] = []
    for index, org in zip(range(requests), itertools.cycle(orgs), strict=False):
        if index % 20 == 0:
            jobs.append(("POST", f"/orgs/{org.org_id}/keys", org))
        else:
            paths = _paths(org)
            jobs.append(("GET", paths[index % len(paths)], org))
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[tuple[str, str, SeededOrg]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def one() -> None:
        while not queue.empty():
            method, path, org = queue.get_nowait()
            headers = {"Authorization": f"Bearer {org.admin_key}"}
            if method == "POST":
                answer = await client.post(path, headers=headers,
                                           json={"name": f"bench-{uuid.uuid4().hex[:6]}"})
                if answer.status_code == 201:
                    key_id = answer.json()["key"]["id"]
                    await client.delete(f"{path}/{key_id}", headers=headers)
            else:
                answer = await client.get(path, headers=headers)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return statuses


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-api-memory-") as tmp, \
            temp_database(Path(tmp)) as url:
        workdir = Path(tmp)
        settings = Settings(database_url=url)
        engine = make_engine(url)
        with make_session_factory(engine).begin() as session:
            orgs = [seed_org(session, SHAPE, settings.pepper_bytes) for _ in range(args.orgs)]
        engine.dispose()
        queue = f"bench-api-{uuid.uuid4().hex[:6]}"
        async with dev_server(workdir) as temporal:
            extra = {"LIFECYCLE_SWEEP_SCHEDULE_ENABLED": "false"}
            async with worker_process(url, temporal.address, queue, workdir, settings=extra):
                port = free_port()
                env = dict(os.environ, LIFECYCLE_DATABASE_URL=url,
                           LIFECYCLE_TEMPORAL_ADDRESS=temporal.address, LIFECYCLE_TASK_QUEUE=queue,
                           LIFECYCLE_LOG_LEVEL="WARNING", **{**DEV_ENV, **extra})
                argv = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                        "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
                api = await spawn("api", argv, workdir / "api.log", env)
                try:
                    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                                 timeout=30) as client:
                        await _wait_ready(client, api)
                        idle = rss_mb(api.pid)
                        started = time.perf_counter()
                        statuses = await _load(client, orgs, args.requests, args.concurrency)
                        seconds = time.perf_counter() - started
                        after = rss_mb(api.pid)
                        peak = peak_rss_mb(api.pid)
                finally:
                    await stop(api)
    failed = {code: n for code, n in statuses.items() if code >= 500}
    say(f"statuses: {dict(sorted(statuses.items()))}")
    print(f"API RSS            idle {idle:.0f} MB, after load {after:.0f} MB, peak {peak:.0f} MB")
    print(f"load               {args.requests} requests, {args.concurrency} at once, "
          f"{seconds:.1f} s ({args.requests / seconds:.0f} req/s)")
    print(result_line("api_memory", peak / idle, idle_mb=idle, peak_mb=peak,
                      requests=args.requests, concurrency=args.concurrency))
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--orgs", type=int, default=20)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
