"""Final activity errors: raised non-retryable so a workflow fails at once with a clear reason.

Transient database errors are left as they are: Temporal retries them with the backoff named in
the workflow's retry policy.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from contracts.member_offboarding import REMOVAL_NOT_REQUESTED
from contracts.project_deletion import DELETION_NOT_REQUESTED, PROJECT_NOT_FROZEN
from contracts.subscriptions import CAPACITY_ACTIVE, ORG_NOT_ACTIVE

ORG_NOT_FOUND = "OrgNotFound"
ORG_NOT_FROZEN = "OrgNotFrozen"
TEARDOWN_BLOCKED = "TeardownBlocked"
VERIFICATION_FAILED = "VerificationFailed"
TEARDOWN_NOT_REQUESTED = "TeardownNotRequested"
FINAL_ERRORS = [ORG_NOT_FOUND, ORG_NOT_FROZEN, TEARDOWN_BLOCKED, VERIFICATION_FAILED,
                TEARDOWN_NOT_REQUESTED,
                DELETION_NOT_REQUESTED, PROJECT_NOT_FROZEN, ORG_NOT_ACTIVE, CAPACITY_ACTIVE,
                REMOVAL_NOT_REQUESTED]


def final(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def refuse_leftovers(counts: dict[str, int]) -> None:
    """Fail loudly (non-retryable) when any count is not zero: a deletion that left rows
    behind must never be certified."""
    left = {table: n for table, n in counts.items() if n}
    if left:
        detail = ", ".join(f"{t}={n}" for t, n in sorted(left.items()))
        raise final(VERIFICATION_FAILED, f"rows left behind: {detail}")
