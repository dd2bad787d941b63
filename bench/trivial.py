"""The orchestration baseline: a workflow that runs N do-nothing activities one after another.

Why it looks like this: it pays exactly what Temporal charges per activity (a schedule, a
pickup, a completion, a workflow task) and nothing else, on the same kind of worker as the real
one (sync activities on a 16-thread pool), so the teardown's activities per second divided by
this one's is the share of the server's throughput the engine actually gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass
class TrivialInput:
    activities: int


@activity.defn
def noop(index: int) -> int:
    """A sync activity, like the real database ones, so it takes the same thread-pool path."""
    return index


@workflow.defn
class TrivialWorkflow:
    @workflow.run
    async def run(self, inp: TrivialInput) -> int:
        for i in range(inp.activities):
            await workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(minutes=1))
        return inp.activities
