"""`SubscriptionCancelWorkflow` and `SubscriptionCreateWorkflow`: one cancel or one subscribe,
made durable by Temporal.

The endpoint could cancel in its own transaction, but billing is an external call in general
(`BillingGateway`): running it as an activity means a crash between "provider cancelled" and
"row updated" is retried to completion instead of leaving the two disagreeing. The workflow id
is derived from the subscription, so concurrent clicks share one execution, and the billing
idempotency key from the workflow id, so every retry of that execution reuses one key.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.subscriptions import SubscriptionActivities
    from contracts.subscriptions import (
        SubscribeInput,
        SubscribeResult,
        SubscriptionCancel,
        SubscriptionCancelInput,
        SubscriptionCancelResult,
    )
    from core.idempotency import idempotency_key
    from workflows.policies import RETRY


@workflow.defn
class SubscriptionCancelWorkflow:
    @workflow.run
    async def run(self, inp: SubscriptionCancelInput) -> SubscriptionCancelResult:
        key = idempotency_key(workflow.info().workflow_id, "cancel")
        return await workflow.execute_activity_method(
            SubscriptionActivities.cancel_subscription_live,
            SubscriptionCancel(org_id=inp.org_id, subscription_id=inp.subscription_id,
                               kind=inp.kind, idempotency_key=key, actor=inp.actor),
            start_to_close_timeout=timedelta(seconds=inp.step_timeout_seconds),
            retry_policy=RETRY)


@workflow.defn
class SubscriptionCreateWorkflow:
    """The subscribe call to the billing gateway, retried to the end if a worker dies.

    Its id comes from the org and the caller's idempotency key (`clients.subscriptions`), so
    a repeated request joins the running execution or, after it closed, repeats it: the
    gateway then finds the subscription that key made and returns it.
    """

    @workflow.run
    async def run(self, inp: SubscribeInput) -> SubscribeResult:
        return await workflow.execute_activity_method(
            SubscriptionActivities.subscribe_live, inp,
            start_to_close_timeout=timedelta(seconds=inp.step_timeout_seconds),
            retry_policy=RETRY)
