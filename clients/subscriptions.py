"""Starting the cancel of one live subscription, for the subscription endpoints.

The id is derived from the subscription, and a second start joins the running one, so a double
click or two API replicas cancel once.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.subscriptions import (
    SubscriptionCancelInput,
    SubscriptionCancelResult,
    subscription_cancel_workflow_id,
)
from workflows.subscriptions import SubscriptionCancelWorkflow


async def start_cancel(client: Client, task_queue: str, inp: SubscriptionCancelInput
                       ) -> WorkflowHandle[SubscriptionCancelWorkflow, SubscriptionCancelResult]:
    return await client.start_workflow(
        SubscriptionCancelWorkflow.run, inp,
        id=subscription_cancel_workflow_id(inp.subscription_id), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
