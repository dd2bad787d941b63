"""Subscribing and cancelling one subscription of a *live* org, for the subscription endpoints.

Subscribing (`subscribe_live`) passes the caller's idempotency key to the billing gateway:
the same key again returns the subscription it made instead of a second one, and the audit
event is written only by the call that created it. A second workspace capacity plan is refused
under the org row lock, so two concurrent subscribes cannot both get one.

The teardown's `cancel_subscription` refuses active orgs on purpose (a teardown step must never
touch a live org), so the console's "unsubscribe" needs its own activity with the opposite
guard: the org must be active, checked under the org row lock in the same transaction as the
cancel, so a teardown freezing the org concurrently either sees the cancel committed or makes
this activity refuse. Billing goes through the same `BillingGateway` with an idempotency key
derived from the workflow id, so a retried attempt cannot cancel twice, and the audit event is
written in that transaction only when this key actually changed the row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.billing import BillingGateway
from activities.errors import ORG_NOT_FOUND, final
from contracts.subscriptions import (
    CAPACITY_ACTIVE,
    ORG_NOT_ACTIVE,
    SUBSCRIPTION_NOT_FOUND,
    SubscribeInput,
    SubscribeResult,
    SubscriptionCancel,
    SubscriptionCancelResult,
)
from store import orgs, subscriptions
from store.audit import audit
from store.models import OrgStatus, Subscription, SubscriptionKind, SubscriptionStatus


def _result(sub: Subscription, already: bool) -> SubscriptionCancelResult:
    return SubscriptionCancelResult(
        subscription_id=sub.id, kind=sub.kind.value, status=sub.status.value,
        cancelled_at=sub.cancelled_at.isoformat() if sub.cancelled_at else None,
        already_cancelled=already)


def _subscribed(sub: Subscription, replayed: bool) -> SubscribeResult:
    return SubscribeResult(subscription_id=sub.id, kind=sub.kind.value, plan=sub.plan,
                           status=sub.status.value, created_at=sub.created_at.isoformat(),
                           replayed=replayed)


class SubscriptionActivities:
    """Activities bound to a session factory and a billing gateway (registered as methods)."""

    def __init__(self, sessions: sessionmaker[Session], billing: BillingGateway) -> None:
        self.sessions = sessions
        self.billing = billing

    @activity.defn
    def cancel_subscription_live(self, req: SubscriptionCancel) -> SubscriptionCancelResult:
        """Cancel one subscription of an active org, exactly once per idempotency key.

        A retry whose earlier attempt committed finds the row cancelled with its own key and
        returns the same result without a second audit event, even if the org was frozen since.
        """
        with self.sessions.begin() as session:
            try:
                org = orgs.lock_org(session, req.org_id)
            except orgs.OrgMissing:
                raise final(ORG_NOT_FOUND, f"organization {req.org_id} not found") from None
            sub = subscriptions.get_subscription(session, req.org_id, req.subscription_id,
                                                 SubscriptionKind(req.kind))
            if sub is None:
                raise final(SUBSCRIPTION_NOT_FOUND,
                            f"no {req.kind} subscription {req.subscription_id} in this org")
            if sub.status is SubscriptionStatus.CANCELLED and \
                    sub.cancel_key == req.idempotency_key:
                return _result(sub, already=False)
            if org.status is not OrgStatus.ACTIVE:
                raise final(ORG_NOT_ACTIVE, f"organization {req.org_id} is "
                            f"{org.status.value}: subscriptions are left to its teardown")
            if not self.billing.cancel_subscription(session, req.org_id, sub.id,
                                                    req.idempotency_key):
                return _result(sub, already=True)  # cancelled earlier under another key
            session.flush()
            audit(session, req.org_id, req.actor, "subscription.cancelled",
                  f"subscription:{sub.id}", kind=sub.kind.value, plan=sub.plan,
                  idempotency_key=req.idempotency_key)
            return _result(sub, already=False)

    @activity.defn
    def subscribe_live(self, req: SubscribeInput) -> SubscribeResult:
        """Subscribe an active org to a plan, once per idempotency key."""
        with self.sessions.begin() as session:
            try:
                org = orgs.lock_org(session, req.org_id)
            except orgs.OrgMissing:
                raise final(ORG_NOT_FOUND, f"organization {req.org_id} not found") from None
            done = subscriptions.made_by_key(session, req.org_id, req.idempotency_key)
            if done is not None:
                return _subscribed(done, replayed=True)
            if org.status is not OrgStatus.ACTIVE:
                raise final(ORG_NOT_ACTIVE, f"organization {req.org_id} is "
                            f"{org.status.value}: no new subscriptions")
            kind = SubscriptionKind(req.kind)
            if kind is SubscriptionKind.WORKSPACE_CAPACITY and \
                    subscriptions.active_of_kind(session, req.org_id, kind) is not None:
                raise final(CAPACITY_ACTIVE, "the organization already has an active "
                            "workspace capacity plan: cancel it first")
            sub_id = self.billing.subscribe(session, req.org_id, kind, req.plan,
                                            req.idempotency_key)
            sub = session.get(Subscription, sub_id)
            assert sub is not None
            audit(session, req.org_id, req.actor, "subscription.created",
                  f"subscription:{sub.id}", kind=kind.value, plan=sub.plan)
            return _subscribed(sub, replayed=False)

    def all(self) -> list[Callable[..., Any]]:
        return [self.cancel_subscription_live, self.subscribe_live]
