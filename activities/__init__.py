"""Temporal activities: every side effect the workflows need (database, billing, mail)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lifecycle.settings import Settings


def build_activities(settings: Settings,
                     session_factory: sessionmaker[Session]) -> list[Callable[..., Any]]:
    """Every activity the worker must register, bound to its dependencies."""
    from activities.billing import DatabaseBillingGateway
    from activities.purge import PurgeActivities
    from activities.teardown import TeardownActivities

    teardown = TeardownActivities(session_factory, DatabaseBillingGateway())
    purge = PurgeActivities(session_factory)
    return [*teardown.all(), *purge.all()]
