"""The purge of one project in one deletion target (store/targets.py), and the targets' share
of the freeze snapshot and of the verifier.

`purge_target` walks the target's pages from the heartbeat's cursor (sent at most once a second,
`activities.heartbeats`: an older cursor only lists again what the ledger already holds). Each
page's units are noted in the teardown ledger (key and size) in a transaction that commits
before the target deletes them; a retry after a crash at any line lists again, finds the units
it noted (deleted or not) and deletes what is still there, so the counts are the ledger's rows:
exactly what existed, never a unit twice or a unit deleted but not counted. The same refusal as
the relational purge applies: nothing is deleted unless the org (or the project) is being
deleted under a running request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.heartbeats import Heartbeat
from activities.purge import PurgeActivities
from contracts.teardown import TargetPurgeResult, TargetStep
from store import ledger
from store.targets import RelationalTarget, Scope, reported

log = logging.getLogger(__name__)

def extra_targets(targets: Mapping[str, Any]) -> list[str]:
    """The targets a purge runs `purge_target` for: all but the relational store."""
    return sorted(name for name in targets if name != RelationalTarget.name)


def target_counts(targets: Mapping[str, Any], scope: Scope) -> dict[str, int]:
    """What the extra targets hold for `scope` now, as the certificate names them."""
    counts: dict[str, int] = {}
    for name in extra_targets(targets):
        counts.update(reported(name, targets[name].count(scope)))
    return counts


def target_leftovers(targets: Mapping[str, Any], scope: Scope) -> dict[str, int]:
    """What the extra targets still hold for `scope` (the verifier's share), zeros included."""
    left: dict[str, int] = {}
    for name in extra_targets(targets):
        left.update(reported(name, targets[name].verify(scope)))
    return left


def unit_prefix(step: TargetStep) -> str:
    return f"target:{step.target}:{step.project.project_id}:"


class TargetActivities:
    def __init__(self, sessions: sessionmaker[Session], targets: Mapping[str, Any]) -> None:
        self.sessions = sessions
        self.targets = dict(targets)
        self.purge = PurgeActivities(sessions)

    @activity.defn
    def purge_target(self, step: TargetStep) -> TargetPurgeResult:
        """Every unit of one project in one target, a page at a time, heartbeating the cursor.

        Counts are the units noted and the sum of their sizes, named by the target
        (`objects` and `bytes` for object storage).
        """
        target = self.targets.get(step.target)
        if target is None:  # a worker without this target's settings: another must run it
            raise RuntimeError(f"deletion target {step.target!r} is not configured here")
        scope = Scope(step.project.org_id, step.project.project_id)
        with self.sessions() as session:
            self.purge.require_deleting(session, step.project)
        details = activity.info().heartbeat_details
        cursor: str | None = str(details[0]) if details else ""
        prefix = unit_prefix(step)
        beat = Heartbeat(self.purge.heartbeat_every_s)
        while cursor is not None:
            # A target that is down raises; the activity's retry policy waits it out.
            page = target.enumerate(scope, cursor, step.page_size)
            if page.units:
                with self.sessions.begin() as session:
                    ledger.record_new(session, step.project.org_id,
                                      {prefix + u.key: u.size for u in page.units})
                target.delete(scope, page.units)
            cursor = page.cursor
            beat(cursor or "")
        with self.sessions() as session:
            units, size = ledger.tally(session, step.project.org_id, prefix)
        log.info("purged %d units (%d bytes) of project %s from %s", units, size,
                 step.project.project_id, step.target)
        return TargetPurgeResult(step.target, step.project.project_id,
                                 {target.units_kind: units, target.size_kind: size})

    def all(self) -> list[Callable[..., Any]]:
        return [self.purge_target]
