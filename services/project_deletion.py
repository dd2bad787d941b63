"""Asking for a project's deletion: the checks, then the request row the workflow acts on.

The row is the authority (see `ProjectDeletionRequest`): it is written here, under the org's
row lock, only after the caller's checks passed, and the caller commits it before starting the
workflow (`clients.project_deletion`), whose first activity claims it. A second request while
one is pending or running returns that one instead of writing another, so a retry after a lost
answer, or after Temporal was away when the first start was tried, starts the same deletion.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from contracts.project_deletion import project_deletion_workflow_id
from core.problems import InvalidInput
from services.guards import project_or_404, writable_org
from store import project_deletions
from store.audit import audit
from store.base import utcnow
from store.models import ProjectDeletionRequest


@dataclass(frozen=True)
class Requested:
    request: ProjectDeletionRequest
    created: bool  # False: a live request existed already and is returned instead


def request_deletion(session: Session, org_id: str, project_id: str, *, confirm_name: str,
                     grace_seconds: int, actor: str, min_grace_seconds: int = 0) -> Requested:
    """The project's live deletion request, written now unless one exists already."""
    writable_org(session, org_id)
    project = project_or_404(session, org_id, project_id)
    live = project_deletions.live_request(session, project_id)
    if live is not None:
        return Requested(live, created=False)
    if confirm_name != project.name:
        raise InvalidInput("the confirmation does not match the project's name",
                           field="confirm_name")
    row = project_deletions.add_request(
        session, org_id=org_id, project_id=project_id, requested_by=actor,
        grace_seconds=grace_seconds, workflow_id=project_deletion_workflow_id(project_id),
        now=utcnow(), min_grace_seconds=min_grace_seconds)
    audit(session, org_id, actor, "project.deletion_requested", f"project:{project_id}",
          request_id=row.id, grace_seconds=grace_seconds)
    return Requested(row, created=True)
