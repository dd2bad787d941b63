"""Project deletion requests and certificates: the rows the API writes and the workflow acts on.

The request's life and its queries are every request's (`store.requests`); these name the
project as its subject.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import requests
from store.models import (
    ApiKey,
    Dataset,
    DatasetRecord,
    Project,
    ProjectDeletionCertificate,
    ProjectDeletionRequest,
)

R = ProjectDeletionRequest
LIVE = requests.LIVE
finish = requests.finish


def live_request(session: Session, project_id: str) -> R | None:
    """The project's pending or running request, if any."""
    return requests.live_request(session, R, project_id=project_id)


def latest_request(session: Session, org_id: str, project_id: str) -> R | None:
    """The project's most recent request, whatever became of it (the status page's subject)."""
    return requests.latest_request(session, R, org_id=org_id, project_id=project_id)


def add_request(session: Session, *, org_id: str, project_id: str, requested_by: str,
                grace_seconds: int, workflow_id: str, now: datetime,
                min_grace_seconds: int = 0) -> R:
    return requests.add_request(session, R, org_id=org_id, requested_by=requested_by,
                                grace_seconds=grace_seconds,
                                min_grace_seconds=min_grace_seconds, workflow_id=workflow_id,
                                now=now, project_id=project_id)


def request_for(session: Session, request_id: str, org_id: str, project_id: str, *,
                lock: bool = False) -> R | None:
    """The request with this id, only if it is for this org and project."""
    return requests.request_for(session, R, request_id, org_id, lock=lock,
                                project_id=project_id)


def certificate(session: Session, request_id: str) -> ProjectDeletionCertificate | None:
    return session.execute(select(ProjectDeletionCertificate).where(
        ProjectDeletionCertificate.request_id == request_id)).scalar_one_or_none()


def project_rows(session: Session, project_id: str) -> dict[str, int]:
    """Rows still held by the project, per table (all zero once it is deleted)."""
    datasets = select(Dataset.id).where(Dataset.project_id == project_id).scalar_subquery()

    def count(query: object) -> int:
        return int(session.execute(query).scalar_one())  # type: ignore[call-overload]

    return {
        "projects": count(select(func.count()).select_from(Project)
                          .where(Project.id == project_id)),
        "datasets": count(select(func.count()).select_from(Dataset)
                          .where(Dataset.project_id == project_id)),
        "dataset_records": count(select(func.count()).select_from(DatasetRecord)
                                 .where(DatasetRecord.dataset_id.in_(datasets))),
        "api_keys": count(select(func.count()).select_from(ApiKey)
                          .where(ApiKey.project_id == project_id)),
    }


def stored_counts(session: Session, project_id: str) -> dict[str, int]:
    """What the project holds by its stored counts: the freeze's snapshot, without a scan."""
    datasets, records = session.execute(select(
        func.count(), func.coalesce(func.sum(Dataset.record_count), 0))
        .where(Dataset.project_id == project_id)).one()
    keys = session.execute(select(func.count()).select_from(ApiKey)
                           .where(ApiKey.project_id == project_id)).scalar_one()
    return {"projects": 1, "datasets": int(datasets), "dataset_records": int(records),
            "api_keys": int(keys)}


def add_certificate(session: Session, row: ProjectDeletionCertificate) -> str:
    session.add(row)
    session.flush()
    return row.id
