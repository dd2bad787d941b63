"""Starting the at-once delivery of outbox messages, for the worker's activities and the API.

Call it right after the transaction that queued the messages committed: the workflow reads the
row, so a start before the commit could find nothing. A failed start loses nothing: the caller's
retry starts it again (the id is derived from the message, so a second start joins the first),
and the sweep's delivery phase sends whatever is still pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.outbox import (
    OutboxDeliveryInput,
    OutboxDeliveryResult,
    delivery_input,
    outbox_delivery_workflow_id,
)
from workflows.outbox import OutboxDeliveryWorkflow

START_TIMEOUT_S = 10.0  # how long an activity thread waits for a start to be acknowledged

DeliveryHandle = WorkflowHandle[OutboxDeliveryWorkflow, OutboxDeliveryResult]


async def start_delivery(client: Client, task_queue: str, inp: OutboxDeliveryInput
                         ) -> DeliveryHandle:
    """Start (or join) the delivery of one message."""
    return await client.start_workflow(
        OutboxDeliveryWorkflow.run, inp, id=outbox_delivery_workflow_id(inp.idempotency_key),
        task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)


async def start_deliveries(client: Client, task_queue: str,
                           idempotency_keys: Sequence[str]) -> None:
    """Start the delivery of each message (mails, and webhooks with their own backoff)."""
    await asyncio.gather(*(start_delivery(client, task_queue, delivery_input(key))
                           for key in idempotency_keys))


def blocking_starter(client: Client, task_queue: str) -> Callable[[Sequence[str]], None]:
    """`start_deliveries` for activities, which run in the worker's threads: the start runs on
    the worker's event loop (the one running now) and the thread waits for it, so an activity
    whose start failed fails too, and its retry starts the delivery again."""
    loop = asyncio.get_running_loop()

    def start(idempotency_keys: Sequence[str]) -> None:
        if not idempotency_keys:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # a worker thread, as expected
        else:
            raise RuntimeError("blocking_starter called on an event loop: await "
                               "start_deliveries instead")
        asyncio.run_coroutine_threadsafe(
            start_deliveries(client, task_queue, idempotency_keys), loop
        ).result(timeout=START_TIMEOUT_S)

    return start
