"""Exactly-once counts for teardown steps (see `TeardownLedger` for why)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from store.models import TeardownLedger

L = TeardownLedger


def recorded(session: Session, org_id: str, key: str) -> int | None:
    return session.execute(select(L.count).where(L.org_id == org_id, L.key == key)
                           ).scalar_one_or_none()


def record(session: Session, org_id: str, key: str, count: int) -> None:
    session.execute(insert(L).values(org_id=org_id, key=key, count=count))


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


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def total(session: Session, org_id: str, key_prefix: str) -> int:
    """Sum of recorded counts whose key starts with `key_prefix` (e.g. all batches of a project)."""
    value = session.execute(select(func.coalesce(func.sum(L.count), 0))
                            .where(L.org_id == org_id,
                                   L.key.like(_like_prefix(key_prefix), escape="\\"))
                            ).scalar_one()
    return int(value)


def entries(session: Session, org_id: str, key_prefix: str) -> dict[str, int]:
    """Recorded counts whose key starts with `key_prefix`, by key."""
    rows = session.execute(select(L.key, L.count).where(
        L.org_id == org_id, L.key.like(_like_prefix(key_prefix), escape="\\")))
    return dict(rows.all())


def forget(session: Session, org_id: str, key_prefix: str) -> None:
    """Drop recorded counts under `key_prefix` (a cancelled teardown's snapshot)."""
    session.execute(delete(L).where(L.org_id == org_id,
                                    L.key.like(_like_prefix(key_prefix), escape="\\")))


def record_new(session: Session, org_id: str, counts: dict[str, int]) -> int:
    """Record each key of `counts` not recorded yet (one query to find them, one executemany);
    how many were new. A unit of work noted before it is done, so a retry finds it noted."""
    if not counts:
        return 0
    seen = set(session.scalars(select(L.key).where(L.org_id == org_id,
                                                   L.key.in_(list(counts)))))
    rows = [{"org_id": org_id, "key": k, "count": n} for k, n in counts.items() if k not in seen]
    if rows:
        session.execute(insert(L), rows)
    return len(rows)


def tally(session: Session, org_id: str, key_prefix: str) -> tuple[int, int]:
    """How many rows are recorded under `key_prefix`, and the sum of their counts."""
    rows, value = session.execute(
        select(func.count(), func.coalesce(func.sum(L.count), 0))
        .where(L.org_id == org_id, L.key.like(_like_prefix(key_prefix), escape="\\"))).one()
    return int(rows), int(value)
