"""Heartbeats sent at most once a second from an activity's own thread.

Why throttle here when Temporal throttles what reaches the server anyway: in a plain `def`
activity, `activity.heartbeat` hands the call to the worker's event loop and waits until the
loop has run it. On a busy worker (workflow tasks, other activities' completions, all behind
one GIL) that wait was a third of the sweep's unit threads' samples when sent after every
unit, and a sixth of a million-record purge's activity time when sent after every batch.

What our heartbeats carry only saves work on a retry (a cursor, a "done/total"): every unit of
work commits with its ledger row, so resuming from a cursor a second old redoes no deletion
and counts nothing twice; it re-reads at most a second's worth of emptied ranges.
"""

from __future__ import annotations

import time
from typing import Any

from temporalio import activity

HEARTBEAT_EVERY_S = 1.0


class Heartbeat:
    """Call it after each unit of work: it heartbeats `details` when `every_s` has passed
    since the last one (or the activity began), or when `force` says this one matters."""

    def __init__(self, every_s: float = HEARTBEAT_EVERY_S) -> None:
        self.every_s = every_s
        self.last = time.monotonic()

    def __call__(self, *details: Any, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.every_s:
            activity.heartbeat(*details)
            self.last = now
