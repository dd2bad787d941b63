"""The billing gateway: subscribing, cancelling subscriptions and detaching the card,
idempotently.

A protocol so a real provider can be plugged in later; the default works on our own tables.
Every call carries an idempotency key derived from the workflow id and the step, the same rule
payment providers use: a retried call with the same key must not cancel or detach twice.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from store import orgs, subscriptions
from store.base import utcnow
from store.models import SubscriptionKind, SubscriptionStatus


class BillingGateway(Protocol):
    def subscribe(self, session: Session, org_id: str, kind: SubscriptionKind, plan: str,
                  idempotency_key: str) -> str:
        """Subscribe the org to `plan`; the subscription's id, the same one for a repeated key."""
        ...

    def cancel_subscription(self, session: Session, org_id: str, subscription_id: str,
                            idempotency_key: str) -> bool:
        """Cancel one subscription; True when this key cancelled it (now or on an earlier try)."""
        ...

    def detach_payment_method(self, session: Session, org_id: str, idempotency_key: str) -> int:
        """Remove the org's card on file; the number of cards removed by this key."""
        ...


class DatabaseBillingGateway:
    """Default gateway: subscriptions and cards live in our own tables."""

    def subscribe(self, session: Session, org_id: str, kind: SubscriptionKind, plan: str,
                  idempotency_key: str) -> str:
        existing = subscriptions.made_by_key(session, org_id, idempotency_key)
        if existing is not None:
            return existing.id
        return subscriptions.add_subscription(session, org_id, kind, plan,
                                              create_key=idempotency_key, now=utcnow()).id

    def cancel_subscription(self, session: Session, org_id: str, subscription_id: str,
                            idempotency_key: str) -> bool:
        sub = subscriptions.lock_subscription(session, org_id, subscription_id)
        if sub is None:
            return False
        if sub.status is SubscriptionStatus.CANCELLED:
            return sub.cancel_key == idempotency_key
        sub.status = SubscriptionStatus.CANCELLED
        sub.cancelled_at = utcnow()
        sub.cancel_key = idempotency_key
        return True

    def detach_payment_method(self, session: Session, org_id: str, idempotency_key: str) -> int:
        return orgs.delete_payment_method(session, org_id)
