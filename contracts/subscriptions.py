"""Cancelling one subscription of a live org: the workflow's id, input and result.

Ids only: these values go into Temporal's history, which outlives the org.
"""

from __future__ import annotations

from dataclasses import dataclass

# Error types the cancel activity raises non-retryable; the API maps each to a problem.
ORG_NOT_ACTIVE = "OrgNotActive"
SUBSCRIPTION_NOT_FOUND = "SubscriptionNotFound"


def subscription_cancel_workflow_id(subscription_id: str) -> str:
    """One cancel per subscription: a second request joins the running one."""
    return f"subscription-cancel-{subscription_id}"


@dataclass
class SubscriptionCancelInput:
    org_id: str
    subscription_id: str
    kind: str
    actor: str
    step_timeout_seconds: int = 60


@dataclass
class SubscriptionCancel:
    """What the activity is asked to do, with the idempotency key the billing gateway sees."""

    org_id: str
    subscription_id: str
    kind: str  # a `SubscriptionKind` value: the endpoint says which kind it may cancel
    idempotency_key: str
    actor: str


@dataclass
class SubscriptionCancelResult:
    subscription_id: str
    kind: str
    status: str
    cancelled_at: str | None  # ISO 8601, UTC
    # True when the plan was already cancelled by someone else (another call, a teardown):
    # the caller gets the same 200 either way, this only says whose cancel it was.
    already_cancelled: bool
