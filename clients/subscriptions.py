"""Starting the subscribe or the cancel of one live subscription, for the subscription routes.

A cancel's id is derived from the subscription, a subscribe's from the org and the caller's
idempotency key, and a second start joins the running one, so a double click or two API
replicas cancel (or subscribe) once.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.subscriptions import (
    SubscribeInput,
    SubscribeResult,
    SubscriptionCancelInput,
    SubscriptionCancelResult,
    subscription_cancel_workflow_id,
    subscription_create_workflow_id,
)
from workflows.subscriptions import SubscriptionCancelWorkflow, SubscriptionCreateWorkflow


async def start_cancel(client: Client, task_queue: str, inp: SubscriptionCancelInput
                       ) -> WorkflowHandle[SubscriptionCancelWorkflow, SubscriptionCancelResult]:
    return await client.start_workflow(
        SubscriptionCancelWorkflow.run, inp,
        id=subscription_cancel_workflow_id(inp.subscription_id), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)


async def start_subscribe(client: Client, task_queue: str, inp: SubscribeInput
                          ) -> WorkflowHandle[SubscriptionCreateWorkflow, SubscribeResult]:
    return await client.start_workflow(
        SubscriptionCreateWorkflow.run, inp,
        id=subscription_create_workflow_id(inp.org_id, inp.idempotency_key),
        task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
