"""The worker process: registers every workflow and activity on the task queue and runs them.

Database activities are plain `def`s (SQLAlchemy and psycopg2 block), so they run on a thread
pool; the pool is as large as the number of activities, regular and local, the worker accepts
at once, and the database pool as large as the threads, so a task it takes never queues behind
a busy thread or connection while its timeouts run.

Shutdown is graceful: SIGTERM or SIGINT sets a stop event, the worker stops polling and gives
running activities `LIFECYCLE_WORKER_SHUTDOWN_GRACE_SECONDS` to finish before they are
cancelled, and Temporal retries whatever was cut off on another worker.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities import build_activities
from clients.outbox import blocking_starter
from clients.schedules import ensure_at_worker_start
from clients.teardown import register_search_attributes
from core.logs import configure_logging
from core.sdk_metrics import MetricsExporterError, metrics_runtime
from core.settings import Settings, SettingsError, load_settings, refuse_unsafe
from core.temporal import TemporalSecurity, TemporalUnavailableError, wait_until_serving
from core.tracing import SERVICE_WORKER, configure_tracing
from store.db import make_session_factory, settings_engine
from workflows import all_workflows

log = logging.getLogger("lifecycle.worker")


async def _register_search_attributes(client: Client) -> None:
    """Register the workflows' search attributes; where the server refuses (Temporal Cloud
    registers them through its own console), say so and go on."""
    try:
        added = await register_search_attributes(client)
    except RPCError as exc:
        log.warning("could not register search attributes (%s): register TeardownStatus and "
                    "OrgId (Keyword) on the namespace, or teardowns will fail", exc.message)
        return
    if added:
        log.info("registered search attributes %s", ", ".join(added))

# Regular activities at once.
ACTIVITY_THREADS = 16
# Local activities run on the same pool, in threads of their own beside the regular ones.
LOCAL_ACTIVITIES = 8
# Workflow tasks taken at once. A task runs its local activities before it answers, so one the
# worker took but cannot get to (every thread busy) only waits here while its timeout runs;
# left on the server, it waits without one and goes to whichever worker is free.
WORKFLOW_TASKS = 8
POOL_THREADS = ACTIVITY_THREADS + LOCAL_ACTIVITIES
# Allocations between two young-generation collections (CPython's default is 700). A sweep page
# allocates some 10^5 objects that all live until it ends (ledger rows, digest items, outbox
# rows): at 700 every collection re-scans them and their promotions keep starting full
# collections of the heap, about a third of a compose page's CPU. Cycles are rare here (objects
# go by reference count), so collecting them less often costs little memory.
GC_THRESHOLDS = (10_000, 10, 10)
# Under docker-compose the worker may start while Temporal still registers its namespace.
CONNECT_DEADLINE_S = 60.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

T = TypeVar("T")


async def run_worker(settings: Settings, *, client: Client | None = None,
                     stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or, when no event is given, until SIGTERM/SIGINT).

    Callers that pass their own `stop` (tests, an embedding process) keep control of signals;
    only the stand-alone process installs handlers.
    """
    refuse_unsafe(settings)
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, _request_stop, stop, sig)
            installed.append(sig)

    log.info("database %s", settings.shown_database_url)
    engine = settings_engine(settings, pool_size=POOL_THREADS, max_overflow=0)
    try:
        session_factory = make_session_factory(engine)
        workflows = all_workflows()
        if client is None:
            address = settings.effective_temporal_address
            log.info("connecting to Temporal at %s (namespace %s)", address,
                     settings.temporal_namespace)
            client = await _unless_stopped(
                wait_until_serving(address, settings.temporal_namespace,
                                   deadline_s=CONNECT_DEADLINE_S,
                                   runtime=metrics_runtime(settings),
                                   security=TemporalSecurity.from_settings(settings)), stop)
            if client is None:
                return
        await _unless_stopped(_register_search_attributes(client), stop)
        # Idempotent create-or-update; never fatal (a server without schedules is logged).
        await _unless_stopped(ensure_at_worker_start(client, settings), stop)
        # Activities that queue outbox messages start their delivery through this client.
        activities = build_activities(settings, session_factory,
                                      blocking_starter(client, settings.task_queue))
        await _poll_until_stopped(client, settings.task_queue, workflows, activities, stop,
                                  timedelta(seconds=settings.worker_shutdown_grace_seconds))
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        engine.dispose()
        log.info("worker stopped")


async def _poll_until_stopped(client: Client, task_queue: str, workflows: list[type[Any]],
                              activities: list[Callable[..., Any]], stop: asyncio.Event,
                              grace: timedelta) -> None:
    with ThreadPoolExecutor(max_workers=POOL_THREADS,
                            thread_name_prefix="activity") as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=workflows,
            activities=activities,
            activity_executor=executor,
            max_concurrent_activities=ACTIVITY_THREADS,
            max_concurrent_local_activities=LOCAL_ACTIVITIES,
            max_concurrent_workflow_tasks=WORKFLOW_TASKS,
            graceful_shutdown_timeout=grace,
        )
        log.info("polling task queue %r with %d workflow(s) and %d activity(ies)",
                 task_queue, len(workflows), len(activities))
        running = asyncio.create_task(worker.run(), name="temporal-worker")
        stopping = asyncio.create_task(stop.wait(), name="stop-signal")
        done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            # The worker ended on its own: that is a fatal error (run() re-raises it).
            stopping.cancel()
            await running
            return
        log.info("stop requested: finishing running activities (up to %ss)",
                 int(grace.total_seconds()))
        await worker.shutdown()
        await running


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None when `stop` is set first (a SIGTERM while still connecting)."""
    work_task = asyncio.ensure_future(work)
    stop_task = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    if work_task.done():
        stop_task.cancel()
        return work_task.result()
    work_task.cancel()
    await asyncio.gather(work_task, return_exceptions=True)
    return None


def _request_stop(stop: asyncio.Event, sig: signal.Signals) -> None:
    log.info("received %s", sig.name)
    stop.set()


def tune_gc() -> None:
    """Collect garbage cycles less often (`GC_THRESHOLDS`), and leave the objects made at
    start-up (modules, classes, the SDK) out of every collection: they live as long as the
    process, so scanning them again and again finds nothing."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(settings: Settings) -> int:
    """Process entry point (`lifecycle worker`, `python worker.py`); returns the exit status."""
    configure_logging(settings)
    configure_tracing(settings, SERVICE_WORKER)
    tune_gc()
    try:
        asyncio.run(run_worker(settings))
    except (TemporalUnavailableError, MetricsExporterError) as exc:
        log.error("%s", exc)
        return 1
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    try:
        _settings = load_settings()
    except SettingsError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(_settings))
