"""Sweep benchmark: one key-expiry sweep by the engine, then by two raw SQL statements.

`python -m bench.sweep [--keys N] [--orgs N] [--page-size N]`. N keys (default 1,000,000)
spread over the orgs, expiring uniformly from a week before the sweep's instant to a year
after it, every 47th revoked, one org frozen. The engine phase is the real thing: the dev
server binary with its SQLite file, `lifecycle worker` as its own process, mail to a local SMTP
server, and `KeyExpirySweepWorkflow` started with the input the schedule gives it (plus a fixed
instant); the clock runs from the start call to the result and covers all five phases (claim
keys, unused keys, where no org sets the policy, claim cards, compose digests, deliver). The
database is then emptied, seeded again to the same keys, and swept by `bench.sweep_raw`
(ledger rows and expired markers only: see there); then emptied and seeded once more and
swept by `bench.sweep_plain`, the plain script a team would write instead (the same ledger
rows, the same digests rendered by the product's own functions, sent over one SMTP
connection to the same kind of sink). The RESULT line's `ratio` is engine / raw SQL, its
`plain_ratio` engine / plain script.
Both sides are checked against counts taken from the seeded keys (`bench.sweep_checks`).
PostgreSQL only: the raw baseline is PostgreSQL SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from bench import sweep_checks, sweep_plain, sweep_raw
from bench.common import (
    add_profile_option,
    cpu_split,
    dev_server,
    mail_sink,
    profiled,
    say,
    temp_database,
    vacuum,
    wait_for_pollers,
    worker_process,
)
from bench.results import result_line
from clients.schedules import sweep_input
from contracts.sweep import CARDS, COMPOSE, DELIVER, KEYS, UNUSED, SweepInput, SweepResult
from core.histories import run_histories
from core.settings import Settings
from services.seeding import BARE_ORG, seed_org
from store.base import Base
from store.bulk import insert_keys
from store.db import make_engine, make_session_factory
from store.models import Member, Organization, OrgStatus
from store.seeding import expiring_keys
from workflows.sweep import KeyExpirySweepWorkflow

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SPREAD = (timedelta(days=-7), timedelta(days=358))
REVOKED_EVERY = 47
# The activity type each phase's pages run as, as the history names them.
PHASE_OF = {"sweep_claim_keys": KEYS, "sweep_claim_unused_keys": UNUSED,
            "sweep_claim_cards": CARDS, "sweep_compose_digests": COMPOSE,
            "sweep_deliver_outbox": DELIVER}


def seed(engine: Engine, sessions: sessionmaker[Session], keys: int, orgs: int,
         settings: Settings) -> None:
    """The same keys every time (seeded RNG, ids from the key's number); fresh org ids."""
    started, rng = time.perf_counter(), random.Random(5)
    low, high = (int(s.total_seconds()) for s in SPREAD)
    expiries = [NOW + timedelta(seconds=rng.randint(low, high)) for _ in range(keys)]
    with sessions.begin() as session:
        made = [seed_org(session, BARE_ORG, settings.pepper_bytes, rng=rng)
                for _ in range(orgs)]
        owners = [(o.org_id, o.admin_member_id) for o in made]
        insert_keys(session, expiring_keys(owners, keys, expiries.__getitem__, created_at=NOW,
                                           revoked_every=REVOKED_EVERY))
        if orgs > 1:  # a frozen org's keys are not swept
            session.execute(update(Organization).where(Organization.id == made[-1].org_id)
                            .values(status=OrgStatus.FROZEN))
        # One member of each org reads mail in Taipei: digests render two zones.
        first_members = select(Member.id).where(Member.id.not_in(
            select(Organization.admin_member_id))).limit(orgs)
        session.execute(update(Member).where(Member.id.in_(first_members))
                        .values(timezone="Asia/Taipei"))
    vacuum(engine)
    say(f"seeded {keys:,} keys in {orgs:,} orgs in {time.perf_counter() - started:.1f}s")


def empty(engine: Engine) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names}"))


def phase_seconds(histories: list[WorkflowHistory]) -> dict[str, float]:
    """Each phase's span (first page scheduled to last page completed), over all runs."""
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    completed = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    spans: dict[str, list[datetime]] = {}
    for history in histories:
        kinds: dict[int, str] = {}
        for event in history.events:
            at = event.event_time.ToDatetime()
            if event.event_type == scheduled:
                kind = PHASE_OF[event.activity_task_scheduled_event_attributes
                                .activity_type.name]
                kinds[event.event_id] = kind
                spans.setdefault(kind, [at, at])
            elif event.event_type == completed:
                kind = kinds[event.activity_task_completed_event_attributes.scheduled_event_id]
                spans[kind][1] = at
    return {kind: (end - start).total_seconds() for kind, (start, end) in spans.items()}


@dataclass
class EngineRun:
    seconds: float
    result: SweepResult
    phases: dict[str, float]
    runs: int
    mails: int
    worker_cpu: float
    server_cpu: float


async def engine_phase(url: str, workdir: Path, sweep: SweepInput, profile: Path | None
                       ) -> EngineRun:
    queue = f"bench-sweep-{uuid.uuid4().hex[:6]}"
    with mail_sink() as (sink, port):
        async with dev_server(workdir) as temporal:
            extra = {"LIFECYCLE_SMTP_PORT": str(port),
                     "LIFECYCLE_SWEEP_SCHEDULE_ENABLED": "false"}
            async with worker_process(url, temporal.address, queue, workdir,
                                      settings=extra) as worker:
                await wait_for_pollers(temporal.client, queue, worker)
                with profiled(worker.pid, profile), cpu_split(worker.pid, temporal.pid) as cpu:
                    started = time.perf_counter()
                    handle = await temporal.client.start_workflow(
                        KeyExpirySweepWorkflow.run, sweep, id=f"bench-{queue}",
                        task_queue=queue)
                    result = await handle.result()
                    seconds = time.perf_counter() - started
            histories = await run_histories(temporal.client, handle.id,
                                            handle.first_execution_run_id or "")
        mails = sink.received
    return EngineRun(seconds, result, phase_seconds(histories), len(histories), mails,
                     cpu[0].worker, cpu[0].server)


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp, \
            temp_database(Path(tmp)) as url:
        workdir = Path(tmp)
        settings = Settings(database_url=url, data_dir=workdir)
        sweep = replace(sweep_input(settings), now=NOW, page_size=args.page_size,
                        pages_per_run=args.pages_per_run)
        windows = sweep.windows_days
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        try:
            seed(engine, sessions, args.keys, args.orgs, settings)
            want = sweep_checks.expected(engine, NOW, windows)
            say(f"{want.due_keys:,} keys due, {want.ledger_rows:,} ledger rows expected; "
                "engine phase: dev server + worker process")
            eng = await engine_phase(url, workdir, sweep, args.profile)
            got = sweep_checks.ledger(engine)
            sweep_checks.check("engine", got, want, all_announced=True)
            say(f"engine: {eng.seconds:.2f}s; reseeding for the raw baseline")
            empty(engine)
            seed(engine, sessions, args.keys, args.orgs, settings)
            started = time.perf_counter()
            raw = sweep_raw.sweep(engine, NOW, windows)
            raw_s = time.perf_counter() - started
            raw_got = sweep_checks.ledger(engine)
            sweep_checks.check("raw", raw_got, want, all_announced=False)
            say(f"raw SQL: {raw_s:.2f}s; reseeding for the plain script")
            empty(engine)
            seed(engine, sessions, args.keys, args.orgs, settings)
            with mail_sink() as (plain_sink, port):
                started = time.perf_counter()
                plain = sweep_plain.sweep(engine, NOW, windows, smtp_port=port,
                                          sender=settings.mail_sender,
                                          console_url=settings.effective_console_url)
                plain_s = time.perf_counter() - started
                plain_mails = plain_sink.received
            plain_got = sweep_checks.ledger(engine)
            sweep_checks.check("plain", plain_got, want, all_announced=True)
        finally:
            engine.dispose()
    if raw_got.fingerprint != got.fingerprint or plain_got.fingerprint != got.fingerprint:
        raise SystemExit("the engine and a baseline wrote different ledger rows")
    if plain_mails != eng.mails or plain.mails != plain_mails:
        raise SystemExit(f"the plain script sent {plain_mails:,} mails, the engine {eng.mails:,}")
    totals = eng.result.totals
    if totals.reminders_queued != want.due_keys:
        raise SystemExit(f"workflow reports {totals.reminders_queued:,} reminders queued, "
                         f"{want.due_keys:,} keys are due")
    ratio, plain_ratio = eng.seconds / raw_s, eng.seconds / plain_s
    phases = {k: round(eng.phases.get(k, 0.0), 3) for k in PHASE_OF.values()}
    print(f"keys               {args.keys:,} in {args.orgs:,} orgs, {want.due_keys:,} due "
          f"(page {sweep.page_size:,}, {sweep.pages_per_run} pages per run)")
    print(f"engine             {eng.seconds:.2f}s  (phases: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()) + f"; {eng.runs} runs)")
    print(f"raw SQL            {raw_s:.2f}s  ({raw.ledger_rows:,} ledger rows, "
          f"{raw.marked_expired:,} keys marked expired)")
    print(f"plain script       {plain_s:.2f}s  ({plain.reminders:,} reminders in "
          f"{plain_mails:,} mails over one SMTP connection)")
    print(f"ratio              {ratio:.2f} vs raw SQL (goal <= 3), "
          f"{plain_ratio:.2f} vs the plain script (goal <= 1.3)")
    print(f"reminders          {totals.reminders_queued:,} == independent count "
          f"{want.due_keys:,}; {got.rows:,} ledger rows on both sides; {eng.mails:,} mails "
          f"({totals.messages_sent:,} sent by the workflow)")
    print(f"CPU seconds        worker {eng.worker_cpu:.2f}, dev server {eng.server_cpu:.2f}")
    print(result_line("sweep", ratio, keys=args.keys, due=want.due_keys,
                      reminders=totals.reminders_queued, ledger_rows=got.rows,
                      engine_s=eng.seconds, raw_s=raw_s, plain_s=plain_s,
                      plain_ratio=plain_ratio, keys_s=phases["keys"],
                      compose_s=phases["compose"], deliver_s=phases["deliver"],
                      mails=eng.mails, runs=eng.runs, page_size=sweep.page_size,
                      worker_cpu_s=eng.worker_cpu, server_cpu_s=eng.server_cpu))
    return 0


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=defaults.sweep_page_size)
    parser.add_argument("--pages-per-run", type=int, default=defaults.sweep_pages_per_run)
    add_profile_option(parser)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
