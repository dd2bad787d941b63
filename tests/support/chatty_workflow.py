"""A workflow and an activity that log, for the logging tests (kept apart so the workflow
sandbox imports nothing but Temporal here)."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from activities import fanout

log = logging.getLogger("tests.chatty")
unit_log = logging.getLogger("tests.chatty.unit")


@activity.defn
def chatty_activity(secret: str) -> str:
    """Logs through a plain module logger, as our activities do, and leaks a secret on
    purpose: the log setup must mask it."""
    log.info("activity handling key %s with header 'Authorization: Bearer %s'", secret, secret)
    # Units in helper threads, as the sweep's compose and deliver phases run them: their lines
    # must carry the activity's context too.
    for _ in fanout.each([1, 2, 3], lambda n: unit_log.info("unit %d", n), threads=2):
        pass
    return "done"


@workflow.defn
class ChattyWorkflow:
    @workflow.run
    async def run(self, secret: str) -> str:
        workflow.logger.info("workflow starting")
        return await workflow.execute_activity(chatty_activity, secret,
                                               start_to_close_timeout=timedelta(seconds=10))
