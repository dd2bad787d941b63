"""The teardown's public contract: its id, input, updates, progress and carried state.

Plain dataclasses only (no SQLAlchemy, no clock) so the API, the CLI, the workflow sandbox and
the activities can all import them. Each update and the workflow take one dataclass, so fields
can be added later without breaking running histories or old callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.common import SearchAttributeKey

STEPS: tuple[str, ...] = (
    "freeze",
    "grace",
    "unsubscribe_job_plans",
    "cancel_workspace_capacity",
    "purge_projects",
    "revoke_api_keys",
    "remove_members",
    "delete_payment_method",
    "erase_usage_and_billing",
    "delete_org",
    "verify_nothing_left",
    "certificate",
)
DESTRUCTIVE_FROM = "unsubscribe_job_plans"

# Terminal and live states of a teardown as reported by `progress`.
RUNNING = "running"
IN_GRACE = "grace"
CANCELLED = "cancelled"
COMPLETED = "completed"
FAILED = "failed"
TEARDOWN_STATUSES = (RUNNING, IN_GRACE, CANCELLED, COMPLETED, FAILED)


# Custom search attributes, so operators can filter teardowns in Temporal's own tools
# (`temporal workflow list --query 'TeardownStatus="cancelled"'`, the UI): a cancelled teardown
# returns normally and so shows as COMPLETED in the execution status. Registered by the worker
# at start; the workflow sets them at its start and at each status change.
TEARDOWN_STATUS = SearchAttributeKey.for_keyword("TeardownStatus")
ORG_ID = SearchAttributeKey.for_keyword("OrgId")
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (TEARDOWN_STATUS, ORG_ID)


def teardown_workflow_id(org_id: str) -> str:
    """One teardown per org: the id is derived from the org, never random."""
    return f"org-teardown-{org_id}"


@dataclass
class StepProgress:
    name: str
    status: str = "pending"  # pending | running | done | skipped
    done: int = 0
    total: int = 0
    started_at: str | None = None
    finished_at: str | None = None


@dataclass
class TeardownState:
    """Everything the workflow knows; carried across continue-as-new so progress never resets."""

    steps: list[StepProgress] = field(default_factory=lambda: [StepProgress(s) for s in STEPS])
    status: str = RUNNING
    destructive: bool = False
    grace_deadline: str | None = None
    org_name_hash: str = ""
    snapshot: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    records_purged: int = 0
    project_cursor: str = ""
    verification: dict[str, int] = field(default_factory=dict)
    certificate_id: str | None = None
    last_error: str | None = None
    first_run_id: str = ""
    runs: int = 1
    # From the request row, read when the teardown claims it at the freeze.
    grace_seconds: int = 0
    min_grace_seconds: int = 0
    grace_started: str | None = None
    targets: list[str] = field(default_factory=list)  # from the freeze (see `FreezeResult`)

    def step(self, name: str) -> StepProgress:
        return find_step(self.steps, name)


@dataclass
class TeardownInput:
    """Which org, and which request row the API wrote; nothing else is taken on trust.

    The actor and the grace window are deliberately absent: the activities read them from the
    request row, so a workflow started by anyone who reaches Temporal, with made-up input,
    can neither act nor put words in someone's mouth in the audit trail.
    """

    org_id: str
    request_id: str
    batch_size: int = 10_000
    purge_concurrency: int = 4
    project_page_size: int = 100
    pages_per_run: int = 10
    heartbeat_timeout_seconds: int = 30
    step_timeout_seconds: int = 300  # a single-transaction step; a lost worker is retried after it
    carried: TeardownState | None = None
    target_page_size: int = 1000  # units per page of a deletion target (a DeleteObjects call)


@dataclass
class CancelRequest:
    requested_by: str
    reason: str = ""


@dataclass
class CancelResult:
    cancelled: bool
    detail: str


@dataclass
class ExpediteRequest:
    requested_by: str


@dataclass
class ExpediteResult:
    detail: str


@dataclass
class Progress:
    """What `progress` answers: the live view for the API, the CLI and operators."""

    org_id: str
    status: str
    current_step: str | None
    steps: list[StepProgress]
    percent: float
    grace_deadline: str | None
    cancellable: bool
    records_purged: int
    last_error: str | None
    certificate_id: str | None


def find_step(steps: list[StepProgress], name: str) -> StepProgress:
    for step in steps:
        if step.name == name:
            return step
    raise KeyError(name)


def percent_done(steps: list[StepProgress]) -> float:
    """Each step weighs the same; a running step counts by its done/total fraction."""
    fractions = []
    for step in steps:
        if step.status in ("done", "skipped"):
            fractions.append(1.0)
        elif step.status == "running" and step.total > 0:
            fractions.append(min(step.done / step.total, 1.0))
        else:
            fractions.append(0.0)
    return round(100.0 * sum(fractions) / len(fractions), 1)


@dataclass
class ProjectPurgeResult:
    project_id: str
    records: int
    datasets: int
    api_keys: int


# Inputs and results of the teardown activities: ids and counts only. Nothing here may carry a
# name, an email or card data: these values are written into Temporal's history, which
# operators read and which outlives the org.


@dataclass
class OrgStep:
    org_id: str
    workflow_id: str
    actor: str = ""
    request_id: str = ""  # the teardown request this run acts on
    run_id: str = ""  # the first run of the chain: the one that claimed the request


@dataclass
class FreezeResult:
    org_name_hash: str
    snapshot: dict[str, int]
    already_destructive: bool
    grace_seconds: int = 0  # from the request row
    min_grace_seconds: int = 0
    # The deletion targets besides the relational store the worker runs with (store/targets.py):
    # the purge runs `purge_target` for each, per project.
    targets: list[str] = field(default_factory=list)


@dataclass
class StepCount:
    count: int
    detail: dict[str, int] = field(default_factory=dict)


@dataclass
class SubscriptionStep:
    org_id: str
    workflow_id: str
    subscription_id: str
    request_id: str = ""
    run_id: str = ""


@dataclass
class ProjectPage:
    org_id: str
    after: str
    limit: int


@dataclass
class ProjectStep:
    org_id: str
    project_id: str
    batch_size: int = 10_000
    # Set by a project deletion (the request it acts on); empty for a teardown's purge.
    request_id: str = ""
    # Set by a teardown's purge: the running teardown request of the org.
    teardown_request_id: str = ""


@dataclass
class TargetStep:
    """One project's purge in one deletion target (a teardown's, or a project deletion's)."""

    target: str
    project: ProjectStep
    page_size: int = 1000


@dataclass
class TargetPurgeResult:
    target: str
    project_id: str
    counts: dict[str, int]  # what this target removed, by kind (e.g. objects, bytes)


@dataclass
class Notice:
    org_id: str
    workflow_id: str
    kind: str  # requested | grace_ending | cancelled | completed | failed
    detail: str = ""
    teardown_id: str = ""  # the first run id: one teardown across continue-as-new
    request_id: str = ""  # the request that run claimed: no claimed request, no notice


@dataclass
class CertificateInput:
    org_id: str
    workflow_id: str
    run_id: str
    org_name_hash: str
    request_id: str  # the certificate's actor is read from this row
    steps: list[dict[str, Any]]
    counts: dict[str, int]
    verification: dict[str, int]
    claim_run_id: str = ""  # the run that holds the request (the chain's first)


@dataclass
class TeardownFailure:
    step: OrgStep
    reason: str
