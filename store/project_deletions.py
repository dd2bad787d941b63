"""Project deletion requests and certificates: the rows the API writes and the workflow acts on.

A request goes `pending` (written by the API after its checks) -> `running` (claimed by the
one workflow run that acts on it) -> `completed`, `cancelled` or `failed`. At most one request
per project is pending or running (a partial unique index), so two clicks or two API replicas
make one request, and the claim is what makes "an unused request" mean something: a second
workflow, or the same one started again with made-up input, finds nothing to claim.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.base import new_id, utcnow
from store.models import (
    ApiKey,
    Dataset,
    DatasetRecord,
    Project,
    ProjectDeletionCertificate,
    ProjectDeletionRequest,
    ProjectDeletionStatus,
)

LIVE = (ProjectDeletionStatus.PENDING, ProjectDeletionStatus.RUNNING)
R = ProjectDeletionRequest


def live_request(session: Session, project_id: str) -> R | None:
    """The project's pending or running request, if any."""
    return session.execute(select(R).where(R.project_id == project_id, R.status.in_(LIVE))
                           ).scalar_one_or_none()


def latest_request(session: Session, org_id: str, project_id: str) -> R | None:
    """The project's most recent request, whatever became of it (the status page's subject)."""
    return session.execute(select(R).where(R.org_id == org_id, R.project_id == project_id)
                           .order_by(R.created_at.desc(), R.id.desc()).limit(1)
                           ).scalar_one_or_none()


def live_count(session: Session, org_id: str) -> int:
    return int(session.execute(select(func.count()).select_from(R).where(
        R.org_id == org_id, R.status.in_(LIVE))).scalar_one())


def add_request(session: Session, *, org_id: str, project_id: str, requested_by: str,
                grace_seconds: int, workflow_id: str, now: datetime) -> R:
    row = R(id=new_id(), org_id=org_id, project_id=project_id, requested_by=requested_by,
            grace_seconds=grace_seconds, status=ProjectDeletionStatus.PENDING,
            workflow_id=workflow_id, detail="", created_at=now)
    session.add(row)
    session.flush()
    return row


def request_for(session: Session, request_id: str, org_id: str, project_id: str, *,
                lock: bool = False) -> R | None:
    """The request with this id, only if it is for this org and project."""
    query = select(R).where(R.id == request_id, R.org_id == org_id, R.project_id == project_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def finish(row: R, status: ProjectDeletionStatus, detail: str = "") -> None:
    row.status = status
    row.detail = detail[:500]
    row.finished_at = utcnow()


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
