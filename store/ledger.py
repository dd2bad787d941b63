"""Exactly-once counts for teardown steps (see `TeardownLedger` for why)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from store.models import TeardownLedger

T = TeardownLedger.__table__


def recorded(session: Session, org_id: str, key: str) -> int | None:
    return session.execute(select(T.c.count).where(T.c.org_id == org_id, T.c.key == key)
                           ).scalar_one_or_none()


def record(session: Session, org_id: str, key: str, count: int) -> None:
    session.execute(insert(T).values(org_id=org_id, key=key, count=count))


def once(session: Session, org_id: str, key: str, work: Callable[[], int]) -> int:
    """Run `work` unless `key` is already recorded; either way return the recorded count.

    Must run inside the caller's transaction: the work and its ledger row commit together.
    """
    done = recorded(session, org_id, key)
    if done is not None:
        return done
    count = work()
    record(session, org_id, key, count)
    return count


def total(session: Session, org_id: str, key_prefix: str) -> int:
    """Sum of recorded counts whose key starts with `key_prefix` (e.g. all batches of a project)."""
    escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    value = session.execute(select(func.coalesce(func.sum(T.c.count), 0))
                            .where(T.c.org_id == org_id,
                                   T.c.key.like(escaped + "%", escape="\\"))).scalar_one()
    return int(value)
