"""Soak: the whole engine under a steady mixed load for minutes, watched for slow leaks.

A test lasts seconds; a leak of a connection, a descriptor or a few kilobytes per request shows
only over minutes. This runs the real processes (uvicorn API, `lifecycle worker`, the dev server
with its SQLite file, PostgreSQL) and drives them with several clients at once: reads of orgs,
keys and quotas; keys created, extended and deleted; teardowns started and cancelled (and some
run to completion); key-expiry sweeps triggered. Every few seconds it samples each process's
RSS and open file descriptors, the database's connection count, and the p99 latency of the
requests finished since the previous sample.

The start figures are taken at the first sample after a warm-up (imports, pools and caches
filling), the end figures at the last sample; the p99s are over the minute (a quarter of the
run, when shorter) after the start and before the end. The RESULT line carries the growth of
each figure and the p99 ratio.
Goals for a 10-minute run: RSS growth < 10 %, no descriptor or connection growth, no 5xx,
p99 at the end within 1.5x of the start (docs/reliability.md).

    .venv/bin/python -m bench.soak [--minutes 10] [--clients 6] [--sample-seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.common import (
    dev_server,
    rss_mb,
    run_secrets,
    say,
    spawn,
    stop,
    temp_database,
    worker_process,
)
from bench.results import result_line
from bench.soak_load import TRANSPORT_ERROR, Mix, seed_orgs, teardown_cycle
from core.ports import free_port
from core.settings import Settings
from store.db import make_engine

READY_DEADLINE_S = 60.0


@dataclass
class Sample:
    at: float  # seconds since the load began
    rss_mb: dict[str, float]
    fds: dict[str, int]
    db_connections: int
    p99_ms: float
    requests: int


def _p99_ms(latencies: list[float]) -> float:
    done = sorted(latencies)
    return done[min(len(done) - 1, int(len(done) * 0.99))] * 1000 if done else 0.0


@dataclass
class Latencies:
    """Every finished request: when it finished (since `began`) and how long it took, plus
    every status seen. A sample shows the p99 since the previous sample; the start and end
    figures take the p99 over a whole minute, so a few slow requests do not decide them."""

    began: float = field(default_factory=time.monotonic)
    finished: list[tuple[float, float]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    _taken: int = 0

    def record(self, seconds: float, status: int) -> None:
        self.finished.append((time.monotonic() - self.began, seconds))
        self.statuses[status] += 1

    def take_p99(self) -> tuple[float, int]:
        window, self._taken = self.finished[self._taken:], len(self.finished)
        return _p99_ms([seconds for _, seconds in window]), len(window)

    def p99_between(self, start_s: float, end_s: float) -> tuple[float, int]:
        window = [seconds for at, seconds in self.finished if start_s <= at < end_s]
        return _p99_ms(window), len(window)


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _wait_ready(base: str) -> None:
    give_up_at = time.monotonic() + READY_DEADLINE_S
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < give_up_at:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"API not ready after {READY_DEADLINE_S:.0f}s")


async def _sampler(pids: dict[str, int], url: str, latencies: Latencies, every_s: float,
                   began: float, stop_at: float, samples: list[Sample]) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:  # one connection held throughout: a constant offset
            while time.monotonic() < stop_at:
                await asyncio.sleep(every_s)
                connections = int(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                )).scalar_one())
                conn.rollback()
                p99, count = latencies.take_p99()
                samples.append(Sample(
                    at=time.monotonic() - began,
                    rss_mb={name: round(rss_mb(pid), 1) for name, pid in pids.items()},
                    fds={name: _fds(pid) for name, pid in pids.items()},
                    db_connections=connections, p99_ms=p99, requests=count))
                say(f"t={samples[-1].at:5.0f}s rss={samples[-1].rss_mb} fds={samples[-1].fds} "
                    f"db={connections} p99={p99:.0f}ms n={count}")
    finally:
        engine.dispose()


def _growth(start: float, end: float) -> float:
    return (end - start) / start * 100 if start else 0.0


def _report(samples: list[Sample], warmup_s: float, latencies: Latencies, minutes: float,
            clients: int) -> int:
    if len(samples) < 2:
        raise SystemExit("too few samples: run for longer than two sample periods")
    start = next((s for s in samples if s.at >= warmup_s), samples[0])
    end = samples[-1]
    statuses = latencies.statuses
    span = min(60.0, max(end.at - warmup_s, 1.0) / 4)
    p99_start, n_start = latencies.p99_between(start.at, start.at + span)
    p99_end, n_end = latencies.p99_between(end.at - span, end.at)
    five = sum(n for code, n in statuses.items() if code >= 500)
    unanswered = statuses.get(TRANSPORT_ERROR, 0)
    for label, sample in (("start", start), ("end", end)):
        print(f"{label:<5} t={sample.at:.0f}s  RSS MB {sample.rss_mb}  fds {sample.fds}  "
              f"db connections {sample.db_connections}")
    print(f"p99 over {span:.0f} s: {p99_start:.0f} ms ({n_start} requests) after the start "
          f"sample, {p99_end:.0f} ms ({n_end} requests) before the end sample")
    print(f"statuses {dict(sorted(statuses.items()))}")
    fields: dict[str, object] = {"minutes": minutes, "clients": clients}
    for name in start.rss_mb:
        fields[f"rss_growth_pct_{name}"] = _growth(start.rss_mb[name], end.rss_mb[name])
        fields[f"fd_growth_{name}"] = end.fds[name] - start.fds[name]
    fields["db_conn_growth"] = end.db_connections - start.db_connections
    fields["errors_5xx"] = five
    fields["unanswered"] = unanswered
    fields["requests"] = sum(statuses.values())
    fields["p99_start_ms"] = p99_start
    fields["p99_end_ms"] = p99_end
    ratio = p99_end / p99_start if p99_start else 0.0
    print(result_line("soak", ratio, **fields))
    return 1 if five or unanswered else 0


async def run(args: argparse.Namespace) -> int:
    # A server refuses the public development pepper and webhook key; the load needs grace
    # windows of 0.
    for name, value in run_secrets().items():
        os.environ.setdefault(name, value)
    os.environ["LIFECYCLE_MIN_GRACE_SECONDS"] = "0"
    operator = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp, \
            temp_database(Path(tmp)) as url:
        workdir = Path(tmp)
        settings = Settings(database_url=url)
        orgs = await asyncio.to_thread(seed_orgs, url, settings, args.clients)
        queue = f"bench-soak-{uuid.uuid4().hex[:6]}"
        async with dev_server(workdir) as temporal:
            extra = {"LIFECYCLE_OPERATOR_TOKEN": operator, "LIFECYCLE_LOG_LEVEL": "WARNING"}
            async with worker_process(url, temporal.address, queue, workdir,
                                      settings=extra) as worker:
                port = free_port()
                env = dict(os.environ, LIFECYCLE_DATABASE_URL=url,
                           LIFECYCLE_TEMPORAL_ADDRESS=temporal.address,
                           LIFECYCLE_TASK_QUEUE=queue, **extra)
                argv = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                        "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
                api = await spawn("api", argv, workdir / "api.log", env)
                base = f"http://127.0.0.1:{port}"
                try:
                    await _wait_ready(base)
                    pids = {"api": api.pid, "worker": worker.pid, "temporal": temporal.pid}
                    latencies = Latencies()
                    samples: list[Sample] = []
                    began = latencies.began
                    stop_at = began + args.minutes * 60
                    mix = Mix(base, operator, latencies.record, stop_at)
                    await asyncio.gather(
                        _sampler(pids, url, latencies, args.sample_seconds, began, stop_at,
                                 samples),
                        *(mix.client(org) for org in orgs),
                        teardown_cycle(mix, url, settings),
                        mix.sweeps(every_s=max(args.sample_seconds * 2, 10.0)))
                finally:
                    await stop(api)
    warmup = min(60.0, args.minutes * 60 * 0.25)
    return _report(samples, warmup, latencies, args.minutes, args.clients)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
