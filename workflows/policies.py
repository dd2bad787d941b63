"""Retry and timeout policy shared by the teardown workflows.

Transient failures (a database restart, a dropped connection) are retried forever with backoff
capped at a minute: a teardown must finish, not give up at 3 a.m. Errors that retrying cannot
fix are named, so they fail the workflow at once with their message.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.errors import FINAL_ERRORS

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=FINAL_ERRORS,
)
LONG = timedelta(hours=12)
