"""Run one page's independent units (an org's digest, one outbox message) a few at a time.

Why inside the activity and not as more activities: each unit is already its own transaction
and safe to repeat, so the page stays the unit Temporal retries; what the units wait on
(a commit's WAL flush, an SMTP reply) overlaps when a few run at once. A profile of a
million-key sweep showed the single activity thread waiting on exactly those for most of the
compose and deliver phases, with the machine's second core idle.

Results come back in the page's order and the activity heartbeats after each one ("done/total")
from its own thread. Each unit runs in a copy of the activity thread's context variables, where
Temporal keeps `activity.info()` and OpenTelemetry the current span: without it, a unit's log
lines would lose their workflow id, run id, activity name and trace id.
Callers must hand over units that share no rows: two threads never touch one org or one
digest batch.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.orm import Session

from activities.heartbeats import Heartbeat

# Enough to overlap commit flushes and network waits; more only queues on two cores.
UNIT_THREADS = 4

T = TypeVar("T")
R = TypeVar("R")


def threads_for(session: Session) -> int:
    """Several on PostgreSQL; one on SQLite, where a transaction that read before another
    wrote cannot write at all (busy snapshot), so concurrent units would only fail and retry."""
    return UNIT_THREADS if session.get_bind().dialect.name == "postgresql" else 1


def each(units: Sequence[T], work: Callable[[T], R], threads: int = UNIT_THREADS
         ) -> Iterator[tuple[T, R]]:
    """`(unit, work(unit))` in order; the first failure is raised once the others are done."""
    beat = _Progress(len(units))
    if threads <= 1 or len(units) <= 1:
        for unit in units:
            yield unit, work(unit)
            beat()
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="unit") as pool:
        # One copy per unit: a context can be entered by one thread at a time.
        futures = [pool.submit(contextvars.copy_context().run, work, unit) for unit in units]
        for unit, future in zip(units, futures, strict=True):
            yield unit, future.result()
            beat()


class _Progress:
    """Heartbeats "done/total" at most once a second (`activities.heartbeats`), and at the
    last unit."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.beat = total, 0, Heartbeat()

    def __call__(self) -> None:
        self.done += 1
        self.beat(f"{self.done}/{self.total}", force=self.done == self.total)
