"""Project queries."""

from __future__ import annotations

from sqlalchemy.orm import Session

from store.models import Project


def project_of(session: Session, org_id: str, project_id: str) -> Project | None:
    """The project if it is one of this org's: another org's project is as unknown here as a
    made-up id, so a caller cannot tell them apart."""
    project = session.get(Project, project_id)
    return project if project is not None and project.org_id == org_id else None
