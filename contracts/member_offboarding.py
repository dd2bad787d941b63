"""The member offboarding's public contract: its id, input, step names, results and progress.

Ids and counts only: these values go into Temporal's history, which outlives the member and
the org. The request's actor is absent from the input on purpose: the activities read it
from the removal request the API wrote, so a workflow started by anyone else with made-up
input can neither act nor put words in someone's mouth in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.teardown import COMPLETED, FAILED, RUNNING, StepProgress, find_step, percent_done

__all__ = ["COMPLETED", "FAILED", "RUNNING", "StepProgress", "percent_done"]

STEPS: tuple[str, ...] = (
    "claim_request",
    "revoke_keys",
    "release_quotas",
    "end_sessions",
    "notify",
    "remove_member",
)
# The steps that count rows, and the ledger key each records its count under.
COUNTED = ("revoke_keys", "release_quotas", "end_sessions", "notify", "remove_member")

# Error type the offboarding's activities raise non-retryable.
REMOVAL_NOT_REQUESTED = "RemovalNotRequested"


def member_offboarding_workflow_id(member_id: str) -> str:
    """One offboarding per member: the id is derived from the member."""
    return f"member-offboarding-{member_id}"


def offboarding_ledger_prefix(request_id: str) -> str:
    """Where each step records its count once (the teardown ledger, under the org)."""
    return f"offboarding:{request_id}:"


@dataclass
class MemberOffboardingInput:
    org_id: str
    member_id: str
    request_id: str  # the row the API wrote; the workflow acts on nothing else
    step_timeout_seconds: int = 120


@dataclass
class OffboardingStep:
    """What every offboarding activity gets: which request, which step, which run holds it."""

    org_id: str
    member_id: str
    request_id: str
    workflow_id: str
    run_id: str
    step: str = ""


@dataclass
class OffboardingFailure:
    step: OffboardingStep
    reason: str


@dataclass
class OffboardingProgress:
    """What the `progress` query and the workflow's result answer."""

    org_id: str
    member_id: str
    request_id: str
    status: str
    current_step: str | None
    steps: list[StepProgress]
    percent: float
    counts: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None

    def step(self, name: str) -> StepProgress:
        return find_step(self.steps, name)
