"""Project queries: look up, page through, count what a project holds, insert in bulk.

Pages are keysets on the id (stable under concurrent inserts, one index probe per page), the
same rule as the key lists. Counts come from the datasets' stored `record_count`, so showing a
project of a million records costs one small aggregate, not a scan of its records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from store.base import new_id
from store.models import Dataset, Project, ProjectStatus
from store.paging import keyset_page


@dataclass(frozen=True)
class ProjectCounts:
    datasets: int = 0
    records: int = 0


def get_project(session: Session, org_id: str, project_id: str, *,
                lock: bool = False) -> Project | None:
    """The org's project, or None (another org's project is as unknown as a made-up id)."""
    query = select(Project).where(Project.id == project_id, Project.org_id == org_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def status_of(session: Session, project_id: str) -> ProjectStatus | None:
    """The project's status (None when it is gone): checked for every project key."""
    return session.scalar(select(Project.status).where(Project.id == project_id))


def projects_in(session: Session, org_id: str, project_ids: Sequence[str]) -> dict[str, Project]:
    """The org's projects among `project_ids`, by id (another org's are left out)."""
    if not project_ids:
        return {}
    return {p.id: p for p in session.scalars(select(Project).where(
        Project.org_id == org_id, Project.id.in_(list(project_ids))))}


def list_projects(session: Session, org_id: str, *, limit: int = 50,
                  after: str = "") -> tuple[list[Project], str | None]:
    """One page in id order and the cursor of the next one (None at the end)."""
    return keyset_page(session, select(Project).where(Project.org_id == org_id), Project.id,
                       limit=limit, after=after)


def counts(session: Session, project_ids: Sequence[str]) -> dict[str, ProjectCounts]:
    """Datasets and records per project, for a page of projects in one query."""
    if not project_ids:
        return {}
    rows = session.execute(select(
        Dataset.project_id, func.count(), func.coalesce(func.sum(Dataset.record_count), 0))
        .where(Dataset.project_id.in_(project_ids)).group_by(Dataset.project_id))
    found = {pid: ProjectCounts(int(n), int(records)) for pid, n, records in rows}
    return {pid: found.get(pid, ProjectCounts()) for pid in project_ids}


def taken_names(session: Session, org_id: str, names: Sequence[str]) -> set[str]:
    """Which of `names` another project of the org already has."""
    if not names:
        return set()
    return set(session.scalars(select(Project.name).where(
        Project.org_id == org_id, Project.name.in_(list(names)))))


def insert_projects(session: Session, org_id: str, names: Sequence[str],
                    now: datetime) -> list[str]:
    """Insert one project per name in one executemany; their new ids, in order.

    Core rows rather than ORM objects: the seed command makes a thousand projects at a time,
    and the API's one project takes the same path.
    """
    rows = [dict(id=new_id(), org_id=org_id, name=name, status=ProjectStatus.ACTIVE,
                 created_at=now) for name in names]
    if rows:
        session.execute(insert(Project), rows)
    return [str(row["id"]) for row in rows]
