"""Inputs and results of the teardown activities: ids and counts only.

Nothing here may carry a name, an email or card data: these values are written into Temporal's
history, which operators read and which outlives the org (issue 3, point 13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OrgStep:
    org_id: str
    workflow_id: str
    actor: str = ""


@dataclass
class FreezeResult:
    org_name_hash: str
    snapshot: dict[str, int]
    already_destructive: bool


@dataclass
class StepCount:
    count: int
    detail: dict[str, int] = field(default_factory=dict)


@dataclass
class SubscriptionStep:
    org_id: str
    workflow_id: str
    subscription_id: str


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


@dataclass
class Notice:
    org_id: str
    workflow_id: str
    kind: str  # requested | grace_ending | cancelled | completed | failed
    detail: str = ""
    teardown_id: str = ""  # the first run id: one teardown across continue-as-new


@dataclass
class CertificateInput:
    org_id: str
    workflow_id: str
    run_id: str
    org_name_hash: str
    requested_by: str
    steps: list[dict[str, Any]]
    counts: dict[str, int]
    verification: dict[str, int]
