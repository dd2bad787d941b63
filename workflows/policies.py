"""Retry and timeout policy shared by every workflow, and how a short step is run.

Every activity is called by method reference with a policy from here. Transient failures (a
database restart, a dropped connection) are retried forever with backoff capped at a minute: a
teardown or a sweep must finish, not give up at 3 a.m. Errors that retrying cannot fix are
named, so they fail the workflow at once with their message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.errors import FINAL_ERRORS
    from core.grace import expedite_refusal

A = TypeVar("A")
R = TypeVar("R")

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=FINAL_ERRORS,
)
LONG = timedelta(hours=12)

# A local activity retries inside one workflow task, which Temporal keeps alive with a
# heartbeat (three history events) every few seconds: retried forever through an outage it would
# grow the history without bound. So a short step gets a few quick local attempts (about 1.5 s)
# and then becomes a regular activity with RETRY, whose retries add no events.
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=FINAL_ERRORS,
)


async def short_step(method: Callable[[Any, A], R], arg: A, timeout: timedelta) -> R:
    """Run a short, non-heartbeating activity as a local activity, falling back to a regular one.

    Why: a regular activity costs a task-queue round trip and a workflow task (~40-60 ms on the
    dev server) even when its work takes 10 ms; consecutive local activities complete inside one
    workflow task. Semantics stay those of RETRY: after the local attempts fail, for whatever
    reason, the step runs as a regular activity, which retries transient errors forever with
    backoff and fails at once, as `ActivityError` and visibly in the history, on a final error.
    The step must be idempotent, as every teardown activity is: a local attempt whose result
    was not yet recorded runs again after a worker crash, and a final error is met twice.
    """
    try:
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=timeout, retry_policy=LOCAL_RETRY)
    except FailureError as err:  # raised unwrapped (not as ActivityError) by local activities
        if isinstance(err, CancelledError):
            raise
        workflow.logger.warning("local attempts of %s failed (%s): running it as an activity",
                                getattr(method, "__name__", method), err)
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=timeout, retry_policy=RETRY)


def check_cancellable(what: str, status: str, destructive: bool, first_destructive: str) -> None:
    """Refuse a cancel (as the update validator's error) once a deletion cannot be undone.

    Shared by the teardown and the project deletion: both are cancellable until their first
    destructive step (`first_destructive`), and only while running or in grace.
    """
    if destructive:
        raise ApplicationError(
            "the point of no return has passed: deletion started with "
            f"'{first_destructive}' and cannot be cancelled", type="NotCancellable")
    if status not in ("running", "grace"):
        raise ApplicationError(f"{what} is {status}", type="NotCancellable")


def check_expeditable(status: str, destructive: bool, cancelling: bool,
                      grace_elapsed_seconds: float | None = None,
                      min_grace_seconds: int = 0) -> None:
    """Refuse an expedite when there is no grace window left, a cancel is under way, or the
    window's minimum (from the request row) has not passed yet: the window never gets
    shorter than that."""
    if destructive or status not in ("running", "grace"):
        raise ApplicationError("no grace window left to expedite", type="NotExpeditable")
    if cancelling:
        raise ApplicationError("a cancel is already under way", type="NotExpeditable")
    if min_grace_seconds > 0:
        refusal = expedite_refusal(grace_elapsed_seconds or 0.0, min_grace_seconds)
        if refusal is not None:
            raise ApplicationError(refusal, type="NotExpeditable")
