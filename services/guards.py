"""The checks every domain operation starts with, turned into problems in one place.

A write locks the org row (`store.orgs.lock_org`: `SELECT ... FOR UPDATE` on PostgreSQL, the
one writer on SQLite) and refuses unless the org is active, in the same transaction as the
write: a teardown's freeze takes the same lock, so a write either commits before the freeze or
is refused after it ("frozen means frozen"). A project being deleted is refused the same way
under the same lock, which the project deletion's freeze also takes.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.problems import NotFound, OrgFrozen, ProjectFrozen
from store import orgs, projects
from store.models import Organization, OrgStatus, Project, ProjectStatus


def org_or_404(session: Session, org_id: str) -> Organization:
    try:
        return orgs.get_org(session, org_id)
    except orgs.OrgMissing:
        raise NotFound(f"organization {org_id} does not exist") from None


def writable_org(session: Session, org_id: str) -> Organization:
    """Lock the org row for this transaction and refuse unless it is active."""
    try:
        org = orgs.lock_org(session, org_id)
    except orgs.OrgMissing:
        raise NotFound(f"organization {org_id} does not exist") from None
    if org.status is not OrgStatus.ACTIVE:
        raise OrgFrozen(f"the organization is {org.status.value}: writes are refused",
                        org_status=org.status.value)
    return org


def project_or_404(session: Session, org_id: str, project_id: str) -> Project:
    """The org's project; another org's project is as unknown here as a made-up id."""
    project = projects.get_project(session, org_id, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist in this organization")
    return project


def active_project(project: Project) -> Project:
    """The project, unless a deletion is under way (then the 403 `project-frozen`)."""
    if project.status is not ProjectStatus.ACTIVE:
        raise ProjectFrozen(f"the project is {project.status.value}: a deletion is under way, "
                            "writes are refused", project_status=project.status.value)
    return project


def writable_project(session: Session, org_id: str, project_id: str) -> Project:
    """Lock the org (see `writable_org`), then refuse unless the project is active."""
    writable_org(session, org_id)
    return active_project(project_or_404(session, org_id, project_id))
