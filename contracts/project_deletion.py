"""The project deletion's public contract: its id, input, updates, progress and step values.

Ids and counts only: these values go into Temporal's history, which operators read and which
outlives the project. The request's actor is deliberately absent from the input: the
activities read it from the request row the API wrote, so a workflow started by anyone else
with made-up input can neither act nor put words in someone's mouth in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.teardown import (
    CANCELLED,
    COMPLETED,
    FAILED,
    IN_GRACE,
    RUNNING,
    StepProgress,
    find_step,
    percent_done,
)

__all__ = ["CANCELLED", "COMPLETED", "FAILED", "IN_GRACE", "RUNNING", "StepProgress",
           "percent_done"]

STEPS: tuple[str, ...] = (
    "claim_request",
    "freeze",
    "grace",
    "purge",
    "verify_nothing_left",
    "certificate",
)
DESTRUCTIVE_FROM = "purge"

# Error types the deletion's activities raise non-retryable.
DELETION_NOT_REQUESTED = "DeletionNotRequested"
PROJECT_NOT_FROZEN = "ProjectNotFrozen"


def project_deletion_workflow_id(project_id: str) -> str:
    """One deletion per project at a time: the id is derived from the project."""
    return f"project-deletion-{project_id}"


@dataclass
class ProjectDeletionInput:
    org_id: str
    project_id: str
    request_id: str  # the row the API wrote; the workflow acts on nothing else
    batch_size: int = 10_000
    heartbeat_timeout_seconds: int = 30
    step_timeout_seconds: int = 300


@dataclass
class DeletionStep:
    """What every deletion activity gets: which request, and which run acts on it."""

    org_id: str
    project_id: str
    request_id: str
    workflow_id: str
    run_id: str


@dataclass
class ClaimResult:
    grace_seconds: int
    min_grace_seconds: int = 0  # expedite is refused before this much of the window passed


@dataclass
class ProjectFreezeResult:
    project_name_hash: str
    snapshot: dict[str, int]
    already_destructive: bool  # a resumed deletion: the point of no return is behind
    targets: list[str] = field(default_factory=list)  # deletion targets besides the database


@dataclass
class FailureNote:
    step: DeletionStep
    reason: str


@dataclass
class ProjectCertificateInput:
    step: DeletionStep
    project_name_hash: str
    steps: list[dict[str, Any]]
    counts: dict[str, int]
    verification: dict[str, int]


@dataclass
class DeletionCancel:
    requested_by: str
    reason: str = ""


@dataclass
class DeletionExpedite:
    requested_by: str


@dataclass
class DeletionDecision:
    accepted: bool
    detail: str


@dataclass
class DeletionState:
    steps: list[StepProgress] = field(default_factory=lambda: [StepProgress(s) for s in STEPS])
    status: str = RUNNING
    destructive: bool = False
    grace_deadline: str | None = None
    project_name_hash: str = ""
    snapshot: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    verification: dict[str, int] = field(default_factory=dict)
    certificate_id: str | None = None
    last_error: str | None = None
    targets: list[str] = field(default_factory=list)

    def step(self, name: str) -> StepProgress:
        return find_step(self.steps, name)


@dataclass
class DeletionProgress:
    """What `progress` answers; the API adds the records purged so far from the ledger."""

    org_id: str
    project_id: str
    request_id: str
    status: str
    current_step: str | None
    steps: list[StepProgress]
    percent: float
    grace_deadline: str | None
    cancellable: bool
    snapshot: dict[str, int]
    deleted: dict[str, int]
    last_error: str | None
    certificate_id: str | None
