"""The orchestration baseline: a workflow running do-nothing activities in a teardown's mix.

Why it looks like this: it pays exactly what Temporal charges per activity and nothing else, on
the same kind of worker as the real one (sync activities on a 16-thread pool), so the
teardown's activities per second divided by this one's is the share of the server's throughput
the engine actually gets. A teardown runs most of its steps as local activities (no round trip,
completed inside a workflow task) and only its project purges as regular ones (a schedule, a
pickup, a completion, a workflow task each), so the baseline runs the same mix in the same
shape: its local steps one after another, the regular ones `concurrency` at a time as the
teardown purges its projects, then the closing local steps. The teardown's notices are
delivered by workflows of their own, one regular activity each, off its path: here `beside`
regular activities started with the fan-out and awaited at the end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

TIMEOUT = timedelta(minutes=1)


@dataclass
class TrivialInput:
    local_before: int
    regular: int
    local_after: int
    concurrency: int = 1
    beside: int = 0

    @property
    def activities(self) -> int:
        return self.local_before + self.regular + self.local_after + self.beside


@activity.defn
def noop(index: int) -> int:
    """A sync activity, like the real database ones, so it takes the same thread-pool path."""
    return index


@workflow.defn
class TrivialWorkflow:
    @workflow.run
    async def run(self, inp: TrivialInput) -> int:
        for i in range(inp.local_before):
            await workflow.execute_local_activity(noop, i, start_to_close_timeout=TIMEOUT)
        beside = asyncio.gather(*(workflow.execute_activity(
            noop, i, start_to_close_timeout=TIMEOUT) for i in range(inp.beside)))
        gate = asyncio.Semaphore(max(inp.concurrency, 1))

        async def regular(index: int) -> None:
            async with gate:
                await workflow.execute_activity(noop, index, start_to_close_timeout=TIMEOUT)

        await asyncio.gather(*(regular(i) for i in range(inp.regular)))
        for i in range(inp.local_after):
            await workflow.execute_local_activity(noop, i, start_to_close_timeout=TIMEOUT)
        await beside
        return inp.activities
