"""Orchestration benchmark: many small-org teardowns at once versus as many trivial workflows.

`python -m bench.orchestration [--orgs 200]`. Small orgs make the teardown's own database work
tiny, so what is measured is how well the engine uses Temporal: activities completed per second
across all teardowns, against `bench.trivial`'s do-nothing workflows running the same number of
activities each on the same dev server, with a worker configured the same way. Both phases
share the server (SQLite file), back to back; worker start-up is outside both clocks.

The teardowns' notices are delivered at once by workflows of their own (one activity each) to
the worker's local mail sink; the engine's clock runs until the last one was sent, and those
deliveries count among its activities.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.common import (
    Temporal,
    activities_run,
    dev_server,
    result_line,
    say,
    temp_database,
    wait_for_pollers,
    worker_process,
)
from bench.trivial import TrivialInput, TrivialWorkflow
from clients.teardown import start_teardown
from contracts.teardown import COMPLETED
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from services.teardown import recorded_input
from store.db import make_engine, make_session_factory
from store.models import OutboxMessage

# A small org: two projects of two tiny datasets, two job plans and workspace capacity.
SMALL = OrgShape()
DELIVERY_DEADLINE_S = 120.0


def seed_orgs(sessions: sessionmaker[Session], settings: Settings, n: int) -> list[SeededOrg]:
    with sessions.begin() as session:
        return [seed_org(session, SMALL, settings.pepper_bytes) for _ in range(n)]


async def teardowns(temporal: Temporal, settings: Settings, sessions: sessionmaker[Session],
                    orgs: list[SeededOrg], queue: str) -> tuple[float, int]:
    """Start every teardown at once; (seconds until the last finished, activities run)."""
    started = time.perf_counter()
    handles = await asyncio.gather(*(start_teardown(
        temporal.client, settings,
        recorded_input(settings, org.org_id, f"member:{org.admin_member_id}", 0),
        queue) for org in orgs))
    results = await asyncio.gather(*(h.result() for h in handles))
    delivered = await notices_delivered(sessions)
    seconds = time.perf_counter() - started
    failed = [r.org_id for r in results if r.status != COMPLETED]
    if failed:
        raise SystemExit(f"{len(failed)} teardown(s) did not complete: {failed[:3]}")
    counts = [await activities_run(temporal.client, h.id, h.result_run_id or "")
              for h in handles]
    return seconds, sum(counts) + delivered


async def notices_delivered(sessions: sessionmaker[Session]) -> int:
    """Wait until no notice is pending; the number sent (one delivery activity each)."""
    deadline = time.perf_counter() + DELIVERY_DEADLINE_S
    while True:
        with sessions() as session:
            by_status = dict(session.execute(select(OutboxMessage.status, func.count())
                                             .group_by(OutboxMessage.status)).all())
        if not by_status.get("pending"):
            if by_status.get("failed"):
                raise SystemExit(f"{by_status['failed']} notice(s) failed")
            return int(by_status.get("sent", 0))
        if time.perf_counter() > deadline:
            raise SystemExit(f"notices still pending after {DELIVERY_DEADLINE_S:.0f}s")
        await asyncio.sleep(0.05)


async def trivials(temporal: Temporal, n: int, per_workflow: int, queue: str) -> float:
    tag = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    handles = await asyncio.gather(*(temporal.client.start_workflow(
        TrivialWorkflow.run, TrivialInput(per_workflow), id=f"bench-trivial-{tag}-{i}",
        task_queue=queue) for i in range(n)))
    await asyncio.gather(*(h.result() for h in handles))
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-orch-") as tmp, \
            temp_database(Path(tmp)) as url:
        workdir = Path(tmp)
        settings = Settings(database_url=url, data_dir=workdir)
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            orgs = seed_orgs(sessions, settings, args.orgs)
            say(f"seeded {len(orgs)} small orgs")
            real_q, trivial_q = (f"bench-{kind}-{uuid.uuid4().hex[:6]}"
                                 for kind in ("real", "noop"))
            async with dev_server(workdir) as temporal:
                async with worker_process(url, temporal.address, real_q, workdir) as worker:
                    await wait_for_pollers(temporal.client, real_q, worker)
                    engine_s, acts = await teardowns(temporal, settings, sessions, orgs, real_q)
                say(f"teardowns: {acts} activities in {engine_s:.2f}s")
                per_workflow = round(acts / len(orgs))
                async with worker_process(url, temporal.address, trivial_q, workdir,
                                          module=("bench.trivial_worker",)) as worker:
                    await wait_for_pollers(temporal.client, trivial_q, worker)
                    trivial_s = await trivials(temporal, len(orgs), per_workflow, trivial_q)
        finally:
            engine.dispose()
    engine_rate = acts / engine_s
    trivial_rate = per_workflow * len(orgs) / trivial_s
    ratio = engine_rate / trivial_rate
    print(f"orgs               {len(orgs)} teardowns at once, {per_workflow} activities each")
    print(f"engine             {engine_s:.2f}s  {engine_rate:.1f} activities/s")
    print(f"trivial            {trivial_s:.2f}s  {trivial_rate:.1f} activities/s")
    print(f"ratio              {ratio:.2f}  (goal >= 0.7)")
    print(result_line("orchestration", ratio, orgs=len(orgs), activities_per_org=per_workflow,
                      engine_s=engine_s, trivial_s=trivial_s, engine_aps=engine_rate,
                      trivial_aps=trivial_rate))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration", description=__doc__)
    parser.add_argument("--orgs", type=int, default=200, help="concurrent teardowns (200)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
