"""Subscribing and cancelling one subscription of a live org: workflow ids, inputs, results.

Ids only: these values go into Temporal's history, which outlives the org.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Error types the subscription activities raise non-retryable; the API maps each to a problem.
ORG_NOT_ACTIVE = "OrgNotActive"
SUBSCRIPTION_NOT_FOUND = "SubscriptionNotFound"
CAPACITY_ACTIVE = "CapacityAlreadyActive"


def subscription_create_workflow_id(org_id: str, idempotency_key: str) -> str:
    """One subscribe per (org, idempotency key): a repeated request joins or repeats it.

    The key is the caller's text, so it is hashed into the id (fixed length, nothing the
    caller typed in Temporal's visibility listings).
    """
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"subscription-create-{org_id}-{digest}"


@dataclass
class SubscribeInput:
    org_id: str
    kind: str  # a `SubscriptionKind` value
    plan: str
    idempotency_key: str  # the caller's; the billing gateway sees exactly this key
    actor: str
    step_timeout_seconds: int = 60


@dataclass
class SubscribeResult:
    subscription_id: str
    kind: str
    plan: str
    status: str
    created_at: str  # ISO 8601, UTC
    # True when an earlier call with the same idempotency key had already subscribed.
    replayed: bool


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
