"""Subscribing an org to a job plan or to workspace capacity: the checks before the gateway.

The subscribe itself runs as `SubscriptionCreateWorkflow` (the billing gateway is an external
call, made durable there); this decides whether to start it at all, under the org row lock:
the org must be active with a usable card on file, at most one workspace capacity plan may be
active, and an idempotency key names one request: the same key with the same plan returns the
subscription it made, the same key with another plan is refused.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.problems import Conflict
from services.guards import writable_org
from store import orgs, subscriptions
from store.base import utcnow
from store.models import Subscription, SubscriptionKind


class PaymentMethodRequired(Conflict):
    slug = "payment-method-required"
    title = "A usable payment method is required"


class CapacityActive(Conflict):
    slug = "capacity-already-active"
    title = "Workspace capacity is already subscribed"


class IdempotencyKeyReused(Conflict):
    slug = "idempotency-key-reused"
    title = "The idempotency key was used for another request"


def earlier_subscription(session: Session, org_id: str, kind: SubscriptionKind, plan: str,
                         idempotency_key: str) -> Subscription | None:
    """The subscription this key already made (None: go ahead and subscribe), or a refusal."""
    writable_org(session, org_id)
    done = subscriptions.made_by_key(session, org_id, idempotency_key)
    if done is not None:
        if (done.kind, done.plan) != (kind, plan):
            raise IdempotencyKeyReused(
                "this Idempotency-Key already subscribed the organization to another plan: "
                "use a new key for a new request", subscription_id=done.id)
        return done
    if orgs.payment_attention(orgs.payment_method(session, org_id), utcnow()):
        raise PaymentMethodRequired("set a valid card on file before subscribing "
                                    "(PUT /orgs/{org_id}/payment-method)")
    if kind is SubscriptionKind.WORKSPACE_CAPACITY:
        active = subscriptions.active_of_kind(session, org_id, kind)
        if active is not None:
            raise CapacityActive("the organization already has an active workspace capacity "
                                 "plan: cancel it first", subscription_id=active)
    return None
