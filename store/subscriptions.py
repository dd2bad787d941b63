"""Subscription queries: the org's list, one subscription, the capacity plan, what is active.

Shared by the API (list, the cancel routes' checks), the live cancel activity and the
teardown, which cancels every active subscription. Functions take the caller's session and
never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.base import new_id
from store.models import Subscription, SubscriptionKind, SubscriptionStatus
from store.paging import keyset_page


def list_subscriptions(session: Session, org_id: str, *, limit: int = 50, after: str = ""
                       ) -> tuple[list[Subscription], str | None]:
    """One page of the org's subscriptions, active and cancelled, in id order."""
    return keyset_page(session, select(Subscription).where(Subscription.org_id == org_id),
                       Subscription.id, limit=limit, after=after)


def get_subscription(session: Session, org_id: str, subscription_id: str,
                     kind: SubscriptionKind | None = None) -> Subscription | None:
    """The subscription if it is this org's (and of `kind`, when given)."""
    query = select(Subscription).where(Subscription.id == subscription_id,
                                       Subscription.org_id == org_id)
    if kind is not None:
        query = query.where(Subscription.kind == kind)
    return session.execute(query).scalar_one_or_none()


def lock_subscription(session: Session, org_id: str, subscription_id: str
                      ) -> Subscription | None:
    """The org's subscription, locked until the transaction ends (fresh from the database)."""
    return session.execute(select(Subscription).where(
        Subscription.id == subscription_id, Subscription.org_id == org_id)
        .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()


def capacity_plan(session: Session, org_id: str) -> Subscription | None:
    """The org's workspace capacity plan: the active one, else the latest (cancelled) one."""
    rows = list(session.scalars(select(Subscription).where(
        Subscription.org_id == org_id,
        Subscription.kind == SubscriptionKind.WORKSPACE_CAPACITY)
        .order_by(Subscription.created_at.desc(), Subscription.id)))
    active = [r for r in rows if r.status is SubscriptionStatus.ACTIVE]
    return active[0] if active else (rows[0] if rows else None)


def active_by_kind(session: Session, org_id: str) -> dict[SubscriptionKind, list[str]]:
    """Ids of the org's active subscriptions by kind, in id order (a handful per org)."""
    rows = session.execute(select(Subscription.kind, Subscription.id).where(
        Subscription.org_id == org_id, Subscription.status == SubscriptionStatus.ACTIVE)
        .order_by(Subscription.id)).all()
    out: dict[SubscriptionKind, list[str]] = {kind: [] for kind in SubscriptionKind}
    for kind, sub_id in rows:
        out[kind].append(sub_id)
    return out


def made_by_key(session: Session, org_id: str, create_key: str) -> Subscription | None:
    """The subscription a subscribe call with this idempotency key made, if any."""
    return session.execute(select(Subscription).where(
        Subscription.org_id == org_id, Subscription.create_key == create_key)
        ).scalar_one_or_none()


def active_of_kind(session: Session, org_id: str, kind: SubscriptionKind) -> str | None:
    """The id of an active subscription of `kind` (for the one-capacity-plan rule)."""
    return session.scalars(select(Subscription.id).where(
        Subscription.org_id == org_id, Subscription.kind == kind,
        Subscription.status == SubscriptionStatus.ACTIVE).limit(1)).first()


def add_subscription(session: Session, org_id: str, kind: SubscriptionKind, plan: str, *,
                     create_key: str, now: datetime) -> Subscription:
    sub = Subscription(id=new_id(), org_id=org_id, kind=kind, plan=plan,
                       status=SubscriptionStatus.ACTIVE, create_key=create_key, created_at=now)
    session.add(sub)
    session.flush()
    return sub
