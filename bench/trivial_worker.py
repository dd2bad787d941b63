"""`python -m bench.trivial_worker`: the baseline's worker process, configured like the real one.

A process of its own (not a second queue in `lifecycle worker`, which must not carry bench
code) with the same thread pool, concurrency limits and garbage collector settings as
`worker.py`, reading the same
`LIFECYCLE_TEMPORAL_ADDRESS` and `LIFECYCLE_TASK_QUEUE`; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from bench.trivial import TrivialWorkflow, noop
from core.settings import load_settings
from core.temporal import wait_until_serving
from worker import ACTIVITY_THREADS, LOCAL_ACTIVITIES, POOL_THREADS, WORKFLOW_TASKS, tune_gc


async def serve() -> None:
    settings = load_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await wait_until_serving(settings.effective_temporal_address,
                                      settings.temporal_namespace, deadline_s=60)
    with ThreadPoolExecutor(max_workers=POOL_THREADS) as pool:
        async with Worker(client, task_queue=settings.task_queue, workflows=[TrivialWorkflow],
                          activities=[noop], activity_executor=pool,
                          max_concurrent_activities=ACTIVITY_THREADS,
                          max_concurrent_local_activities=LOCAL_ACTIVITIES,
                          max_concurrent_workflow_tasks=WORKFLOW_TASKS):
            await stop.wait()


if __name__ == "__main__":
    tune_gc()
    asyncio.run(serve())
