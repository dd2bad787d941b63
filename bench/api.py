"""Throughput and tail latency of the API's authenticated reads against its own `/healthz`.

Why this shape: the key check and the request path (middleware, metrics, tracing) are what
every call pays, so the figure that matters is how much of the bare server's rate an
authenticated read keeps. One uvicorn worker (as the image runs it) serves a PostgreSQL
database of seeded orgs; `wrk` (Debian's package, installed when missing) drives it from a
process of its own, and its CPU time is printed so a saturated load generator shows.

    .venv/bin/python -m bench.api [--seconds 10] [--connections 16] [--orgs 20] [--tracing]

Prints one `RESULT name=api` line: ratio = authenticated `GET /orgs/{id}` rps / `/healthz`
rps, with each route's rps and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from pydantic import SecretStr

from bench.common import (
    cpu_seconds,
    dev_server,
    run_secrets,
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

# Ten projects: the teardown plan's goal is stated at that size.
SHAPE = OrgShape(projects=10, datasets_per_project=2, records_per_dataset=20, members=5,
                 team_keys=20)
READY_DEADLINE_S = 120.0
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Run:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    wrk_cpu_s: float
    api_cpu_s: float
    seconds: float

    @property
    def cpu_ms(self) -> float:
        """API CPU per request: steadier than req/s on a shared machine, where the API waits
        for a core as often as it runs."""
        return 1000 * self.api_cpu_s / max(1.0, self.rps * self.seconds)


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed the way ./test installs chromium."""
    found = shutil.which("wrk")
    if found:
        return found
    say("installing Debian's wrk for the API benchmark")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   capture_output=True, env=env)
    return shutil.which("wrk") or "/usr/bin/wrk"


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _UNIT_MS[match[2]]


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx-or-socket errors) from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)[1])  # type: ignore[index]
    errors = 0
    if (bad := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)) is not None:
        errors += int(bad[1])
    if (sock := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          output)) is not None:
        errors += sum(int(n) for n in sock.groups())
    return rps, p50, p99, errors


def drive(wrk: str, base: str, name: str, path: str, key: str | None, args: argparse.Namespace,
          api_pid: int) -> Run:
    argv = [wrk, "--latency", "-t", str(args.threads), "-c", str(args.connections),
            "-d", f"{args.seconds}s"]
    if key is not None:
        argv += ["-H", f"Authorization: Bearer {key}"]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    api_before = cpu_seconds(api_pid)
    done = subprocess.run([*argv, base + path], capture_output=True, text=True, check=True)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after_children.ru_utime + after_children.ru_stime
               - before_children.ru_utime - before_children.ru_stime)
    rps, p50, p99, errors = parse_wrk(done.stdout)
    return Run(name, rps, p50, p99, errors, wrk_cpu, cpu_seconds(api_pid) - api_before,
               float(args.seconds))


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts and drops spans: tracing on, costs in the API only."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def span_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@asynccontextmanager
async def api_server(url: str, temporal: str, queue: str, workdir: Path,
                     extra: dict[str, str]) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    env = dict(os.environ, LIFECYCLE_DATABASE_URL=url, LIFECYCLE_TEMPORAL_ADDRESS=temporal,
               LIFECYCLE_TASK_QUEUE=queue, LIFECYCLE_LOG_LEVEL="WARNING", **extra)
    argv = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    api = await spawn("api", argv, workdir / f"api-{port}.log", env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            give_up_at = time.monotonic() + READY_DEADLINE_S
            last = "no answer"
            while True:
                try:
                    answer = await client.get("/readyz")
                    if answer.status_code == 200:
                        break
                    last = f"{answer.status_code} {answer.text[:300]}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                if time.monotonic() > give_up_at:
                    log = "\n".join(api.log_tail(30))
                    raise SystemExit(f"API not ready after {READY_DEADLINE_S:.0f}s ({last})\n"
                                     f"{log}")
                await asyncio.sleep(0.2)
        yield base, api.pid
    finally:
        await stop(api)


async def _check_answers(base: str, org: SeededOrg, paths: dict[str, str]) -> None:
    """Each measured route answers 200 for the key before it is timed."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for path in paths.values():
            answer = await client.get(path, headers={"Authorization": f"Bearer {org.admin_key}"})
            if answer.status_code != 200:
                raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:300]}")


def _print(run: Run) -> None:
    print(f"{run.name:<18} {run.rps:9.0f} req/s  p50 {run.p50_ms:7.2f} ms  "
          f"p99 {run.p99_ms:7.2f} ms  errors {run.errors}  "
          f"API {run.cpu_ms:.2f} CPU-ms/request (wrk {run.wrk_cpu_s:.1f} CPU-s, "
          f"API {run.api_cpu_s:.1f} CPU-s)")


async def run(args: argparse.Namespace) -> int:
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, \
            temp_database(Path(tmp)) as url:
        workdir = Path(tmp)
        secret_env = run_secrets()
        settings = Settings(database_url=url,
                            key_pepper=SecretStr(secret_env["LIFECYCLE_KEY_PEPPER"]))
        engine = make_engine(url)
        with make_session_factory(engine).begin() as session:
            orgs = [seed_org(session, SHAPE, settings.pepper_bytes) for _ in range(args.orgs)]
        engine.dispose()
        org = orgs[len(orgs) // 2]
        paths = {"org": f"/orgs/{org.org_id}", "keys": f"/orgs/{org.org_id}/keys?limit=50",
                 "plan": f"/orgs/{org.org_id}/teardown/plan"}
        queue = f"bench-api-{uuid.uuid4().hex[:6]}"
        runs: list[Run] = []
        async with dev_server(workdir) as temporal:
            extra = {"LIFECYCLE_SWEEP_SCHEDULE_ENABLED": "false", **secret_env}
            async with worker_process(url, temporal.address, queue, workdir, settings=extra):
                async with api_server(url, temporal.address, queue, workdir, extra) as (base,
                                                                                        pid):
                    await _check_answers(base, org, paths)
                    runs.append(drive(wrk, base, "healthz", "/healthz", None, args, pid))
                    for name, path in paths.items():
                        runs.append(drive(wrk, base, name, path, org.admin_key, args, pid))
                if args.tracing:
                    with span_sink() as sink:
                        traced = dict(extra, LIFECYCLE_OTLP_ENDPOINT=sink)
                        async with api_server(url, temporal.address, queue, workdir,
                                              traced) as (base, pid):
                            runs.append(drive(wrk, base, "org traced", paths["org"],
                                              org.admin_key, args, pid))
    for each in runs:
        _print(each)
    by = {each.name: each for each in runs}
    health, org_run = by["healthz"], by["org"]
    fields: dict[str, object] = {"p99_ms": org_run.p99_ms, "healthz_rps": health.rps,
                                 "healthz_p99_ms": health.p99_ms, "org_rps": org_run.rps}
    for name in ("keys", "plan"):
        fields[f"{name}_rps"] = by[name].rps
        fields[f"{name}_p99_ms"] = by[name].p99_ms
    for name in ("healthz", "org", "keys", "plan", "org traced"):
        if name in by:
            fields[f"{name.replace(' ', '_')}_cpu_ms"] = by[name].cpu_ms
    if "org traced" in by:
        fields["traced_rps"] = by["org traced"].rps
        fields["traced_p99_ms"] = by["org traced"].p99_ms
    fields["connections"] = args.connections
    print(result_line("api", org_run.rps / health.rps, **fields))
    return 1 if any(each.errors for each in runs) else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--tracing", action="store_true",
                        help="also measure GET /orgs/{id} with request spans exported")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
