"""Project purge activities: delete a project's records in batches, then the project itself.

Two callers share them: the org teardown (every project of an org being deleted) and the
deletion of one project of a live org (`ProjectStep.request_id` names its request). Either way
they refuse to touch a project that is not being deleted: the org must be `deleting` under a
running teardown request, or the project itself `deleting` under a running request, which
also names the actor of its audit events.

The batches are keyset ranges (see `store/purge.py` for why). Each batch commits on its own with
its ledger row, and the activity heartbeats its cursor (at most once a second,
`activities.heartbeats`) so a retry resumes about where the last attempt stopped instead of
scanning emptied datasets again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.errors import ORG_NOT_FROZEN, TEARDOWN_NOT_REQUESTED, final
from activities.heartbeats import HEARTBEAT_EVERY_S, Heartbeat
from contracts.project_deletion import DELETION_NOT_REQUESTED, PROJECT_NOT_FROZEN
from contracts.teardown import ProjectPurgeResult, ProjectStep, teardown_workflow_id
from store import ledger, orgs, project_deletions, projects, purge, requests
from store.audit import audit
from store.models import (
    OrgStatus,
    ProjectDeletionStatus,
    ProjectStatus,
    RequestStatus,
    TeardownRequest,
)

log = logging.getLogger(__name__)


@dataclass
class PurgeCursor:
    """Where a purge is: datasets before `dataset_id` are empty, and ids up to `after` in it."""

    dataset_id: str = ""
    after: int = 0


class PurgeActivities:
    def __init__(self, sessions: sessionmaker[Session], *,
                 heartbeat_every_s: float = HEARTBEAT_EVERY_S) -> None:
        self.sessions = sessions
        self.heartbeat_every_s = heartbeat_every_s

    def require_deleting(self, session: Session, step: ProjectStep) -> str:
        """Refuse unless the project is being deleted; the actor for its audit events."""
        if not step.request_id:
            try:
                deleting = orgs.org_status(session, step.org_id) is OrgStatus.DELETING
            except orgs.OrgMissing:
                deleting = False
            if not deleting:
                raise final(ORG_NOT_FROZEN, f"organization {step.org_id} is not being deleted")
            teardown = (requests.request_for(session, TeardownRequest, step.teardown_request_id,
                                             step.org_id) if step.teardown_request_id else None)
            if (teardown is None or teardown.status is not RequestStatus.RUNNING
                    or teardown.workflow_id != teardown_workflow_id(step.org_id)):
                raise final(TEARDOWN_NOT_REQUESTED, f"no running teardown request "
                            f"{step.teardown_request_id or '(none)'} for this organization")
            return "teardown"
        request = project_deletions.request_for(session, step.request_id, step.org_id,
                                                step.project_id)
        if request is None or request.status is not ProjectDeletionStatus.RUNNING:
            raise final(DELETION_NOT_REQUESTED,
                        f"no running deletion request {step.request_id} for this project")
        status = projects.status_of(session, step.project_id)
        if status is not None and status is not ProjectStatus.DELETING:
            raise final(PROJECT_NOT_FROZEN, f"project {step.project_id} is {status.value}: "
                        "refusing to purge it")
        return request.requested_by

    def purge_project_records(self, step: ProjectStep) -> int:
        """Delete every record of the project's datasets; returns how many this purge deleted.

        The first half of `purge_project`, run in its activity context (it reads and writes
        that activity's heartbeat).
        """
        details = activity.info().heartbeat_details
        cursor = PurgeCursor(**details[0]) if details else PurgeCursor()
        beat = Heartbeat(self.heartbeat_every_s)
        with self.sessions() as session:
            self.require_deleting(session, step)
            dataset_ids = purge.dataset_ids(session, step.project_id,
                                            starting_at=cursor.dataset_id)
        for dataset_id in dataset_ids:
            after = cursor.after if dataset_id == cursor.dataset_id else 0
            while True:
                with self.sessions.begin() as session:
                    upper, size = purge.next_batch(session, dataset_id, after, step.batch_size)
                    if upper is None:
                        break
                    key = f"records:{step.project_id}:{dataset_id}:{upper}"
                    ledger.once(session, step.org_id, key,
                                partial(purge.delete_range, session, dataset_id, after, upper))
                after = upper
                beat(PurgeCursor(dataset_id, after).__dict__)
                if size < step.batch_size:  # the dataset's last batch (see store/purge.py)
                    break
        with self.sessions() as session:
            purged = ledger.total(session, step.org_id, f"records:{step.project_id}:")
        log.info("purged %d records of project %s", purged, step.project_id)
        return purged

    def delete_project(self, step: ProjectStep) -> ProjectPurgeResult:
        """Remove the emptied datasets, the project's keys and the project, in one transaction.

        The second half of `purge_project`.
        """
        with self.sessions.begin() as session:
            key = f"projects:{step.project_id}"
            if ledger.recorded(session, step.org_id, key) is None:
                actor = self.require_deleting(session, step)
                erased = purge.erase_project(session, step.project_id)
                ledger.record(session, step.org_id, f"datasets:{step.project_id}",
                              erased["datasets"])
                ledger.record(session, step.org_id, f"api_keys:{step.project_id}",
                              erased["api_keys"])
                ledger.record(session, step.org_id, key, erased["projects"])
                action = "project.purged" if step.request_id else "teardown.project_purged"
                audit(session, step.org_id, actor, action, f"project:{step.project_id}",
                      datasets=erased["datasets"], api_keys=erased["api_keys"])
            return ProjectPurgeResult(
                project_id=step.project_id,
                records=ledger.total(session, step.org_id, f"records:{step.project_id}:"),
                datasets=ledger.recorded(session, step.org_id,
                                         f"datasets:{step.project_id}") or 0,
                api_keys=ledger.recorded(session, step.org_id,
                                         f"api_keys:{step.project_id}") or 0)

    @activity.defn
    def purge_project(self, step: ProjectStep) -> ProjectPurgeResult:
        """A whole project in one activity: its records in batches, then the project itself.

        Why one: each activity costs a scheduling round trip and a workflow task (~50 ms on the
        dev server), on the critical path of every project. Both halves are idempotent on their
        own, so a retry resumes the records from the heartbeat and finds the project's ledger
        row once it is gone.
        """
        self.purge_project_records(step)
        return self.delete_project(step)

    def all(self) -> list[Callable[..., Any]]:
        return [self.purge_project]
