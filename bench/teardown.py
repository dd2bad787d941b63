"""Teardown benchmark: one big org deleted by the engine, by batched SQL and by one DELETE.

`python -m bench.teardown [--records N] [--objects N] [--sqlite]`. The engine phase is the
real thing: the dev server binary with its SQLite file, `lifecycle worker` as its own process,
grace 0; the clock runs from the start call to the workflow's result (worker start-up excluded:
a production worker is long-running). The same shape is then seeded again and deleted by
`bench.raw` in this process, keyset batches of the engine's size committed one by one, and
seeded a third time for the physical limit: all its records removed by ONE plain `DELETE`,
then the same small tables (`raw.delete_org_at_once`; the records' statement is timed on its
own, as the counterpart of the engine's `purge_projects` phase, whose records/s over that
statement's is `purge_vs_delete`). Every phase starts from a freshly seeded, `VACUUM
ANALYZE`d database, back to back, so the ratios hold on a shared machine where absolute times
drift. With `--objects N` (20,000 by default) an objects phase follows (bench/objects.py): an
org's N dataset files deleted by a teardown against SeaweedFS, then the same keys by a plain
`DeleteObjects` loop.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench import raw
from bench.common import (
    cpu_split,
    dev_server,
    machine_busy_seconds,
    peak_rss_mb,
    profiled,
    rss_mb,
    say,
    temp_database,
    vacuum,
    wait_for_pollers,
    worker_process,
)
from bench.objects import objects_phase
from bench.results import result_line
from clients.teardown import start_teardown
from contracts.teardown import COMPLETED, Progress
from core.histories import run_histories
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from services.teardown import recorded_input
from store import purge
from store.db import make_engine, make_session_factory
from store.models import Dataset
from store.plan import owned_counts

PROJECTS = 20
T = TypeVar("T")
DATASETS_PER_PROJECT = 5


def org_shape(records: int) -> OrgShape:
    """An org as a real one looks: records spread over 20 projects x 5 datasets, keys, members,
    plans, months of usage and invoices (about 6,000 small rows beside the records)."""
    per_dataset = max(1, -(-records // (PROJECTS * DATASETS_PER_PROJECT)))
    return OrgShape(projects=PROJECTS, datasets_per_project=DATASETS_PER_PROJECT,
                    records_per_dataset=per_dataset, members=50, team_keys=10,
                    project_keys_per_project=2, job_plans=3, usage_records=5_000, invoices=24,
                    key_tombstones=20, reminders=20)


def seed(engine: Engine, sessions: sessionmaker[Session], shape: OrgShape,
         settings: Settings) -> SeededOrg:
    started = time.perf_counter()
    with sessions.begin() as session:
        org = seed_org(session, shape, settings.pepper_bytes, rng=random.Random(6))
    vacuum(engine)
    say(f"seeded {org.counts['dataset_records']:,} records in "
        f"{time.perf_counter() - started:.1f}s")
    return org


def assert_gone(sessions: sessionmaker[Session], org_id: str) -> None:
    with sessions() as session:
        left = {t: n for t, n in owned_counts(session, org_id).items() if n}
    if left:
        raise SystemExit(f"rows left behind: {left}")


def step_seconds(progress: Progress) -> list[tuple[str, float]]:
    """Each step's duration by workflow time, to show where the engine's time goes."""
    out = []
    for step in progress.steps:
        if step.started_at and step.finished_at:
            secs = (datetime.fromisoformat(step.finished_at)
                    - datetime.fromisoformat(step.started_at)).total_seconds()
            out.append((step.name, secs))
    return out


async def engine_phase(url: str, org: SeededOrg, settings: Settings, workdir: Path,
                       batch: int, concurrency: int, profile: Path | None
                       ) -> dict[str, float | str]:
    queue = f"bench-teardown-{uuid.uuid4().hex[:6]}"
    async with dev_server(workdir) as temporal:
        async with worker_process(url, temporal.address, queue, workdir) as worker:
            await wait_for_pollers(temporal.client, queue, worker)
            idle_rss = rss_mb(worker.pid)
            inp = replace(recorded_input(settings, org.org_id, f"member:{org.admin_member_id}", 0),
                          batch_size=batch, purge_concurrency=concurrency)
            with profiled(worker.pid, profile), cpu_split(worker.pid, temporal.pid) as cpu:
                started = time.perf_counter()
                handle = await start_teardown(temporal.client, settings, inp, queue)
                progress = await handle.result()
                seconds = time.perf_counter() - started
            peak = peak_rss_mb(worker.pid)
        if progress.status != COMPLETED:
            raise SystemExit(f"teardown ended {progress.status}: {progress.last_error}")
        histories = await run_histories(temporal.client, handle.id, handle.result_run_id or "")
    sizes = [len(h.events) for h in histories]
    steps = step_seconds(progress)
    say("engine step times: " + ", ".join(f"{name} {secs:.2f}s" for name, secs in steps))
    split = cpu[0]
    say(f"engine CPU seconds: {split}")
    return {"seconds": seconds, "purge_s": dict(steps)["purge_projects"],
            "idle_rss": idle_rss, "peak_rss": peak,
            "worker_cpu": split.worker, "server_cpu": split.server, "busy_cpu": split.machine,
            "runs": float(len(sizes)), "history": "/".join(str(n) for n in sizes)}


def explain_purge(engine: Engine, org_id: str, batch: int) -> list[str]:
    """PostgreSQL's plans for the purge's two batch statements on the biggest dataset, as the
    engine builds them: both must walk the `(dataset_id, id)` index, never scan the table."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        dataset_id = conn.execute(select(Dataset.id).where(Dataset.org_id == org_id)
                                  .order_by(Dataset.record_count.desc()).limit(1)).scalar_one()
        upper = purge.next_batch(Session(bind=conn), dataset_id, 0, batch).upper or 0
        lines: list[str] = []
        for name, statement in (("batch end", purge.next_batch_query(dataset_id, 0, batch)),
                                ("batch delete", purge.range_delete(dataset_id, 0, upper))):
            sql = str(statement.compile(dialect=engine.dialect,
                                        compile_kwargs={"literal_binds": True}))
            plan = conn.execute(text(f"EXPLAIN {sql}")).scalars().all()
            lines += [f"EXPLAIN {name:<12} | {row}" for row in plan]
        conn.rollback()
    return lines


def baseline(engine: Engine, sessions: sessionmaker[Session], shape: OrgShape,
             settings: Settings, delete: Callable[[str], T]) -> tuple[T, float, float]:
    """The shape seeded again and vacuumed, then `delete(org_id)` timed on it: (its answer,
    seconds, CPU seconds of the whole machine meanwhile). Every baseline starts where the engine
    started, and must leave nothing of the org behind."""
    org = seed(engine, sessions, shape, settings)
    busy_before, started = machine_busy_seconds(), time.perf_counter()
    answer = delete(org.org_id)
    seconds = time.perf_counter() - started
    busy = machine_busy_seconds() - busy_before
    assert_gone(sessions, org.org_id)
    return answer, seconds, busy


async def run(args: argparse.Namespace) -> int:
    shape = org_shape(args.records)
    with tempfile.TemporaryDirectory(prefix="bench-teardown-") as tmp, \
            temp_database(Path(tmp), sqlite=args.sqlite) as url:
        workdir = Path(tmp)
        settings = Settings(database_url=url, data_dir=workdir)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        try:
            org = seed(engine, sessions, shape, settings)
            records = org.counts["dataset_records"]
            plans = explain_purge(engine, org.org_id, args.batch_size)
            say("engine phase: dev server + worker process")
            eng = await engine_phase(url, org, settings, workdir, args.batch_size,
                                     args.concurrency, args.profile)
            assert_gone(sessions, org.org_id)
            say(f"engine: {eng['seconds']:.2f}s; reseeding for the raw baseline")
            raw_records, raw_s, raw_busy = baseline(
                engine, sessions, shape, settings,
                lambda org_id: raw.delete_org(engine, org_id, args.batch_size))
            say(f"raw SQL: {raw_s:.2f}s; reseeding for the plain DELETE")
            (delete_records, records_s), delete_s, _ = baseline(
                engine, sessions, shape, settings,
                lambda org_id: raw.delete_org_at_once(engine, org_id))
            objs = (await objects_phase(url, settings, sessions, workdir, args.objects,
                                        args.concurrency) if args.objects else None)
        finally:
            engine.dispose()
    for name, deleted in (("raw baseline", raw_records), ("plain DELETE", delete_records)):
        if deleted != records:
            raise SystemExit(f"{name} deleted {deleted} records, engine {records}")
    engine_s, purge_s = float(eng["seconds"]), float(eng["purge_s"])
    ratio = engine_s / raw_s
    purge_vs_delete = records_s / purge_s
    db = "sqlite" if args.sqlite else "postgresql"
    print(f"records            {records:,} ({db}, batch {args.batch_size}, "
          f"concurrency {args.concurrency})")
    print(f"engine             {engine_s:.2f}s  {records / engine_s:,.0f} records/s")
    print(f"raw SQL            {raw_s:.2f}s  {records / raw_s:,.0f} records/s")
    print(f"plain DELETE       {delete_s:.2f}s  {records / delete_s:,.0f} records/s "
          f"(the records' one statement {records_s:.2f}s, then the small tables)")
    print(f"ratio              {ratio:.2f}  (goal <= 1.2 at 1,000,000 records); "
          f"vs plain DELETE {engine_s / delete_s:.2f}")
    print(f"purge rate         engine purge_projects {purge_s:.2f}s "
          f"{records / purge_s:,.0f} records/s, one DELETE {records / records_s:,.0f} "
          f"records/s: {purge_vs_delete:.2f} of it (goal >= 0.8)")
    print(f"worker RSS         idle {eng['idle_rss']:.0f} MB, peak {eng['peak_rss']:.0f} MB "
          "(goal < 250 MB)")
    print(f"CPU seconds        engine: worker {eng['worker_cpu']:.2f}, dev server "
          f"{eng['server_cpu']:.2f}, whole machine {eng['busy_cpu']:.2f}; raw: whole machine "
          f"{raw_busy:.2f}")
    print(f"parent history     {eng['history']} events in {int(eng['runs'])} run(s)")
    for line in plans:
        print(line)
    extra = objects_report(objs) if objs is not None else {}
    print(result_line("teardown", ratio, records=records, db=db, engine_s=engine_s,
                      raw_s=raw_s, delete_s=delete_s, delete_records_s=records_s,
                      purge_s=purge_s, purge_vs_delete=purge_vs_delete,
                      delete_ratio=engine_s / delete_s, engine_rps=round(records / engine_s),
                      raw_rps=round(records / raw_s), worker_peak_rss_mb=eng["peak_rss"],
                      worker_idle_rss_mb=eng["idle_rss"], worker_cpu_s=eng["worker_cpu"],
                      server_cpu_s=eng["server_cpu"], history=eng["history"], **extra))
    return 0


def objects_report(objs: dict[str, float]) -> dict[str, object]:
    """Print the objects phase's figures; its fields of the RESULT line."""
    n = objs["objects"]
    print(f"objects            {int(n):,} (SeaweedFS, pages of 1,000)")
    print(f"engine teardown    {objs['engine_s']:.2f}s  {n / objs['engine_s']:,.0f} objects/s "
          "(freeze count, noted pages, verifier listing included)")
    print(f"plain DeleteObjects {objs['raw_s']:.2f}s  {n / objs['raw_s']:,.0f} objects/s")
    print(f"objects ratio      {objs['engine_s'] / objs['raw_s']:.2f}")
    return {"objects": int(n), "objects_engine_s": objs["engine_s"],
            "objects_raw_s": objs["raw_s"], "objects_ratio": objs["engine_s"] / objs["raw_s"]}


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m bench.teardown", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000,
                        help="dataset records in the org (default 1,000,000)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite file instead of PostgreSQL")
    parser.add_argument("--batch-size", type=int, default=defaults.purge_batch_size)
    parser.add_argument("--concurrency", type=int, default=defaults.purge_concurrency,
                        help="projects purged at once by the engine")
    parser.add_argument("--objects", type=int, default=20_000,
                        help="dataset files of the objects phase (0: no objects phase)")
    parser.add_argument("--profile", type=Path, metavar="FILE.json",
                        help="sample the worker with py-spy during the engine phase "
                        "(speedscope JSON; needs py-spy in the venv)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
