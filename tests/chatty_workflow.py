"""A workflow and an activity that log, for the logging tests (kept apart so the workflow
sandbox imports nothing but Temporal here)."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity, workflow

log = logging.getLogger("tests.chatty")


@activity.defn
def chatty_activity(secret: str) -> str:
    """Logs through a plain module logger, as our activities do, and leaks a secret on
    purpose: the log setup must mask it."""
    log.info("activity handling key %s with header 'Authorization: Bearer %s'", secret, secret)
    return "done"


@workflow.defn
class ChattyWorkflow:
    @workflow.run
    async def run(self, secret: str) -> str:
        workflow.logger.info("workflow starting")
        return await workflow.execute_activity(chatty_activity, secret,
                                               start_to_close_timeout=timedelta(seconds=10))
