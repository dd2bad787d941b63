"""Orchestration benchmark: many small-org teardowns at once versus as many trivial workflows.

`python -m bench.orchestration [--orgs 200]`. Small orgs make the teardown's own database work
tiny, so what is measured is how well the engine uses Temporal: activities completed per second
across all teardowns, against `bench.trivial`'s do-nothing workflows running the same activities
each on the same dev server, with a worker configured the same way. Both phases share the
server (SQLite file), back to back; worker start-up is outside both clocks.

Like with like: the teardowns' histories give their mix (local activities before the project
purges, the purges as regular activities, local ones after; `bench.common.activity_mix`), and
the trivial workflows run that mix, the regular ones as many at once as the teardown purges
projects. The teardowns' notices are delivered at once by workflows of their own (one regular
activity each) to the worker's local mail sink; the engine's clock runs until the last one was
sent, those deliveries count among its activities, and the trivial workflows run as many
regular activities beside their fan-out. Both sides' mixes, as their histories show them, are
printed, and the CPU each phase used in the worker, the dev server and the rest of the machine
(PostgreSQL): where the slower side's time went.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.common import (
    ActivityMix,
    CpuSplit,
    Temporal,
    cpu_split,
    dev_server,
    run_mix,
    say,
    temp_database,
    wait_for_pollers,
    worker_process,
)
from bench.results import result_line
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
                    orgs: list[SeededOrg], queue: str) -> tuple[float, ActivityMix, int]:
    """Start every teardown at once; (seconds until the last finished and its notices were
    sent, one teardown's activity mix, notices delivered)."""
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
    mixes = [await run_mix(temporal.client, h.id, h.result_run_id or "") for h in handles]
    return seconds, one_mix("teardown", mixes), delivered


def one_mix(side: str, mixes: list[ActivityMix]) -> ActivityMix:
    """The mix the workflows of a side ran: the most common one. Every workflow must have run
    as many local and regular activities (the orgs are alike), or the per-workflow figures mean
    nothing; where a local step falls around the first regular activity may differ (the
    teardown's "requested" notice runs beside the steps after the freeze), and is shown."""
    kinds = {(mix.local, mix.regular) for mix in mixes}
    timeouts = task_timeouts(mixes)
    if len(kinds) > 1:
        raise SystemExit(f"{side} workflows ran different activities (local, regular): {kinds}"
                         + (f"; {timeouts} workflow task(s) timed out in the worker"
                            if timeouts else ""))
    if timeouts:
        say(f"{side}: {timeouts} workflow task(s) timed out in the worker")
    seen = Counter(mixes).most_common()
    if len(seen) > 1:
        say(f"{side}: local steps before/after the regular ones differ: "
            + ", ".join(f"{n} x {mix.local_before}/{mix.local_after}" for mix, n in seen))
    return replace(seen[0][0], task_timeouts=timeouts)  # the side's, all workflows


def task_timeouts(mixes: list[ActivityMix]) -> int:
    return sum(mix.task_timeouts for mix in mixes)


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


async def trivials(temporal: Temporal, n: int, inp: TrivialInput, queue: str
                   ) -> tuple[float, ActivityMix]:
    """Start `n` trivial workflows at once; (seconds until the last finished, their mix)."""
    tag = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    handles = await asyncio.gather(*(temporal.client.start_workflow(
        TrivialWorkflow.run, inp, id=f"bench-trivial-{tag}-{i}", task_queue=queue)
        for i in range(n)))
    await asyncio.gather(*(h.result() for h in handles))
    seconds = time.perf_counter() - started
    mixes = [await run_mix(temporal.client, h.id, h.result_run_id or "") for h in handles]
    return seconds, one_mix("trivial", mixes)


def trivial_input(mix: ActivityMix, notices: int, concurrency: int) -> TrivialInput:
    """The trivial workflow's input for a teardown that ran `mix` and had `notices` sent."""
    return TrivialInput(local_before=mix.local_before, regular=mix.regular,
                        local_after=mix.local_after, concurrency=concurrency, beside=notices)


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
                    with cpu_split(worker.pid, temporal.pid) as engine_cpu:
                        engine_s, mix, delivered = await teardowns(temporal, settings,
                                                                   sessions, orgs, real_q)
                notices = round(delivered / len(orgs))
                inp = trivial_input(mix, notices, settings.purge_concurrency)
                say(f"teardowns: {mix} activities each and {notices} notices, "
                    f"in {engine_s:.2f}s")
                async with worker_process(url, temporal.address, trivial_q, workdir,
                                          module=("bench.trivial_worker",)) as worker:
                    await wait_for_pollers(temporal.client, trivial_q, worker)
                    with cpu_split(worker.pid, temporal.pid) as trivial_cpu:
                        trivial_s, trivial_mix = await trivials(temporal, len(orgs), inp,
                                                                trivial_q)
        finally:
            engine.dispose()
    acts = mix.total * len(orgs) + delivered
    engine_rate = acts / engine_s
    trivial_rate = trivial_mix.total * len(orgs) / trivial_s
    ratio = engine_rate / trivial_rate
    print(f"orgs               {len(orgs)} teardowns at once, {mix.total + notices} "
          "activities each")
    print(f"engine mix         {mix} (purges {settings.purge_concurrency} at once), "
          f"+ {notices} notices delivered by workflows of their own (regular)")
    print(f"trivial mix        {trivial_mix} ({inp.concurrency} at once, "
          f"{inp.beside} of them beside)")
    print(f"engine             {engine_s:.2f}s  {engine_rate:.1f} activities/s")
    print(f"trivial            {trivial_s:.2f}s  {trivial_rate:.1f} activities/s")
    print(f"ratio              {ratio:.2f}  (throughput; goal >= 0.7)")
    print(f"task timeouts      engine {mix.task_timeouts}, trivial {trivial_mix.task_timeouts} "
          "(workflow tasks a worker took and did not answer in time)")
    print(f"CPU seconds        engine: {engine_cpu[0]}")
    print(f"                   trivial: {trivial_cpu[0]}")
    print(result_line("orchestration", ratio, orgs=len(orgs),
                      activities_per_org=mix.total + notices, engine_local=mix.local,
                      engine_regular=mix.regular + notices, trivial_local=trivial_mix.local,
                      trivial_regular=trivial_mix.regular, engine_s=engine_s,
                      trivial_s=trivial_s, engine_aps=engine_rate, trivial_aps=trivial_rate,
                      engine_task_timeouts=mix.task_timeouts,
                      trivial_task_timeouts=trivial_mix.task_timeouts,
                      **cpu_fields("engine", engine_cpu[0]),
                      **cpu_fields("trivial", trivial_cpu[0])))
    return 0


def cpu_fields(side: str, split: CpuSplit) -> dict[str, float]:
    """A phase's CPU split as RESULT fields: where a slower side spent its time."""
    return {f"{side}_worker_cpu_s": split.worker, f"{side}_server_cpu_s": split.server,
            f"{side}_rest_cpu_s": split.rest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration", description=__doc__)
    parser.add_argument("--orgs", type=int, default=200, help="concurrent teardowns (200)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
