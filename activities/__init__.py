"""Temporal activities: every side effect the workflows need (database, billing, mail)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings


def build_activities(settings: Settings, session_factory: sessionmaker[Session],
                     start_delivery: Callable[[Sequence[str]], None] | None = None
                     ) -> list[Callable[..., Any]]:
    """Every activity the worker must register, bound to its dependencies.

    `start_delivery` starts the at-once delivery of committed outbox messages (the worker
    passes `clients.outbox.blocking_starter`); without it they wait for the sweep.
    """
    from activities.billing import DatabaseBillingGateway
    from activities.certificates import Issuer
    from activities.delivery import DeliveryActivities
    from activities.digests import DigestActivities
    from activities.member_offboarding import MemberOffboardingActivities
    from activities.project_deletion import ProjectDeletionActivities
    from activities.purge import PurgeActivities
    from activities.subscriptions import SubscriptionActivities
    from activities.sweep import SweepClaimActivities
    from activities.targets import TargetActivities
    from activities.teardown import TeardownActivities
    from store.target_set import build_targets

    issuer = Issuer(settings.certificate_signer, settings.erasure_ledger_path)
    targets = build_targets(settings, session_factory)
    teardown = TeardownActivities(session_factory, DatabaseBillingGateway(), start_delivery,
                                  issuer, targets)
    purge = PurgeActivities(session_factory)
    subscriptions = SubscriptionActivities(session_factory, DatabaseBillingGateway())
    sweep = [*SweepClaimActivities(session_factory).all(),
             *DigestActivities(session_factory, settings.effective_console_url).all(),
             *DeliveryActivities(session_factory, settings, start_delivery=start_delivery).all()]
    deletion = ProjectDeletionActivities(session_factory, issuer, targets)
    offboarding = MemberOffboardingActivities(session_factory, start_delivery)
    return [*teardown.all(), *purge.all(), *TargetActivities(session_factory, targets).all(),
            *subscriptions.all(), *deletion.all(), *sweep, *offboarding.all()]
