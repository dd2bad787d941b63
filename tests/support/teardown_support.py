"""Helpers for teardown tests: a worker on a private task queue, history walking, polling."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypedDict, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities import build_activities
from clients.outbox import blocking_starter
from clients.teardown import register_search_attributes
from core.settings import Settings
from workflows import all_workflows

T = TypeVar("T")


class TeardownKnobs(TypedDict, total=False):
    """The tuning fields of `TeardownInput` a test overrides, typed so `replace(inp, **knobs)`
    is checked field by field (a misspelt or mistyped knob fails the type check, not a run)."""

    batch_size: int
    purge_concurrency: int
    project_page_size: int
    pages_per_run: int
    heartbeat_timeout_seconds: int
    step_timeout_seconds: int
    target_page_size: int


@asynccontextmanager
async def teardown_worker(client: Client, settings: Settings,
                          sessions: sessionmaker[Session],
                          replace: Sequence[Callable[..., Any]] = (),
                          deliver_at_once: bool = False) -> AsyncIterator[str]:
    """Run the real workflows and activities on a fresh task queue; yields the queue name.

    `replace` swaps activities by name (a unit test may hold or fail one step on purpose).
    `deliver_at_once` starts each queued notice's delivery as the worker does (the test then
    runs an SMTP server at `settings.smtp_port`); without it notices stay in the outbox.
    """
    queue = f"teardown-test-{uuid.uuid4().hex[:8]}"
    await register_search_attributes(client)  # as the worker process does at its start
    starter = blocking_starter(client, queue) if deliver_at_once else None
    acts = {getattr(a, "__temporal_activity_definition").name: a
            for a in build_activities(settings, sessions, starter)}
    for fn in replace:
        acts[getattr(fn, "__temporal_activity_definition").name] = fn
    with ThreadPoolExecutor(max_workers=16) as pool:
        async with Worker(client, task_queue=queue, workflows=all_workflows(),
                          activities=list(acts.values()), activity_executor=pool,
                          max_concurrent_activities=16):
            yield queue


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool],
                     timeout: float = 30.0) -> T:
    """Poll `probe` until `accept` holds; fail with the last value seen after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s; last: {value!r}")
        await asyncio.sleep(0.05)


