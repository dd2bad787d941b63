"""The billing gateway: subscribing, cancelling subscriptions and detaching the card,
idempotently.

A protocol so a real provider can be plugged in later; the default works on our own tables.
Every call carries an idempotency key derived from the workflow id and the step, the same rule
payment providers use: a retried call with the same key must not cancel or detach twice.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.base import new_id, utcnow
from store.models import PaymentMethod, Subscription, SubscriptionKind, SubscriptionStatus


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
        existing = session.execute(select(Subscription.id).where(
            Subscription.org_id == org_id, Subscription.create_key == idempotency_key)
            ).scalar_one_or_none()
        if existing is not None:
            return existing
        sub = Subscription(id=new_id(), org_id=org_id, kind=kind, plan=plan,
                           status=SubscriptionStatus.ACTIVE, create_key=idempotency_key,
                           created_at=utcnow())
        session.add(sub)
        session.flush()
        return sub.id

    def cancel_subscription(self, session: Session, org_id: str, subscription_id: str,
                            idempotency_key: str) -> bool:
        sub = session.execute(select(Subscription).where(
            Subscription.id == subscription_id, Subscription.org_id == org_id)
            .with_for_update()).scalar_one_or_none()
        if sub is None:
            return False
        if sub.status is SubscriptionStatus.CANCELLED:
            return sub.cancel_key == idempotency_key
        sub.status = SubscriptionStatus.CANCELLED
        sub.cancelled_at = utcnow()
        sub.cancel_key = idempotency_key
        return True

    def detach_payment_method(self, session: Session, org_id: str, idempotency_key: str) -> int:
        result = session.execute(delete(PaymentMethod).where(PaymentMethod.org_id == org_id))
        return int(result.rowcount)  # type: ignore[attr-defined]
