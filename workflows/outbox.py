"""`OutboxDeliveryWorkflow`: one outbox message delivered as soon as it is committed.

Why a workflow of its own and not a step of whoever queued the message: a teardown's notice,
and later the API's own mails, must go out within seconds whatever the sender does next (wait
out a grace window, end), and keep being retried through a mail server's outage without
holding the sender up. The workflow id is derived from the message's idempotency key, so a
second start (the queueing activity retried after its start was lost) joins the first.

Exactly once per idempotency key comes from the activity's guard, shared with the sweep's
delivery phase: each attempt claims the row under its lock and marks it in the same
transaction. Transient failures are retried here with backoff; the channel's attempt limit,
counted on the row, ends them (the row is then `failed`). An error no retry can fix fails the
message at its first attempt. When the activity gives up for another reason (the database down
for longer than the retries), the message stays pending and the sweep's delivery phase, the
backstop, sends it.

A paced delivery (webhooks) keeps its own waits instead: each attempt answers whether to try
again and after how long (the endpoint's jittered backoff, about three days in all, recorded in
its delivery log), and the workflow sleeps that long on a durable timer. Which path a run takes
is fixed by its input, so histories of either replay unchanged.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from contracts.outbox import (
        LEFT_PENDING,
        RETRY,
        OutboxDeliveryInput,
        OutboxDeliveryResult,
    )


@workflow.defn
class OutboxDeliveryWorkflow:
    @workflow.run
    async def run(self, inp: OutboxDeliveryInput) -> OutboxDeliveryResult:
        retry = RetryPolicy(initial_interval=timedelta(seconds=inp.retry_initial_seconds),
                            backoff_coefficient=2.0,
                            maximum_interval=timedelta(seconds=inp.retry_max_interval_seconds))
        if inp.paced:
            return await self._paced(inp, retry)
        try:
            return await workflow.execute_activity_method(
                DeliveryActivities.deliver_message, inp,
                start_to_close_timeout=timedelta(seconds=inp.attempt_timeout_seconds),
                retry_policy=retry)
        except ActivityError as err:
            workflow.logger.warning("outbox delivery left to the sweep: %s", err.cause or err)
            return OutboxDeliveryResult(inp.idempotency_key, LEFT_PENDING)

    async def _paced(self, inp: OutboxDeliveryInput, retry: RetryPolicy) -> OutboxDeliveryResult:
        first = True
        while True:
            attempt = dataclasses.replace(inp, wait_until_due=first)
            first = False
            try:
                result = await workflow.execute_activity_method(
                    DeliveryActivities.deliver_attempt, attempt,
                    start_to_close_timeout=timedelta(seconds=inp.attempt_timeout_seconds),
                    retry_policy=retry)
            except ActivityError as err:
                workflow.logger.warning("webhook delivery left to the sweep: %s",
                                        err.cause or err)
                return OutboxDeliveryResult(inp.idempotency_key, LEFT_PENDING)
            if result.status != RETRY:
                return OutboxDeliveryResult(inp.idempotency_key, result.status)
            await workflow.sleep(timedelta(seconds=max(result.retry_in_seconds or 1.0, 1.0)))
