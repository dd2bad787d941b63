"""Request and response bodies of the project deletion routes, and their mapping from the
workflow's `DeletionProgress`, the request row and the stored certificate."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.teardown_models import StepOut
from contracts.project_deletion import DeletionProgress
from core.grace import GRACE_CEILING
from core.text import OneLine
from store.models import ProjectDeletionCertificate, ProjectDeletionRequest


class DeletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"confirm_name": "genomics", "grace_seconds": 3600}]})

    confirm_name: OneLine = Field(max_length=200, description="the project's exact name")
    grace_seconds: int | None = Field(None, ge=0, le=GRACE_CEILING,
                                      description="grace window; default from settings")


class DeletionStarted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "request_id": "4e5f...", "workflow_id": "project-deletion-7c1e...", "run_id": "0192...",
        "status_url": "/orgs/3f1c.../projects/7c1e.../deletion"}]})

    request_id: str
    workflow_id: str
    run_id: str
    status_url: str


class ProjectCertificateOut(BaseModel):
    id: str
    request_id: str
    org_id: str
    project_id: str
    project_name_hash: str
    requested_by: str
    workflow_id: str
    run_id: str
    steps: list[StepOut]
    counts: dict[str, int]
    verification: dict[str, int]
    created_at: datetime
    signed: str | None = Field(
        None, description="the certificate as signed with the server's Ed25519 key: save "
                          "this string as a file, byte for byte, and check it offline with "
                          "`lifecycle certificate verify FILE` against the keys at "
                          "`/.well-known/lifecycle-certificate-keys`; null when the server "
                          "has no signing key")


class DeletionStatus(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "request_id": "4e5f...", "project_id": "7c1e...", "request_status": "running",
        "workflow_id": "project-deletion-7c1e...", "run_id": "0192...", "source": "workflow",
        "status": "grace", "current_step": "grace", "steps": [], "percent": 33.3,
        "grace_deadline": "2026-01-02T00:00:00+00:00", "cancellable": True,
        "snapshot": {"projects": 1, "datasets": 2, "dataset_records": 120000, "api_keys": 1},
        "deleted": {}, "records_purged": 0, "last_error": None, "certificate": None}]})

    request_id: str
    project_id: str
    request_status: str = Field(description="pending | running | cancelled | completed | "
                                "failed (the request row)")
    workflow_id: str
    run_id: str | None
    source: str = Field(description="workflow (live query or result), request (the workflow "
                        "has not started or its history is gone) or certificate")
    status: str = Field(description="pending | running | grace | cancelled | completed | "
                        "failed")
    current_step: str | None
    steps: list[StepOut]
    percent: float
    grace_deadline: str | None
    cancellable: bool
    snapshot: dict[str, int] = Field(description="what the project held when it was frozen")
    deleted: dict[str, int]
    records_purged: int = Field(description="records deleted so far (read live while the "
                                "purge runs)")
    last_error: str | None
    certificate: ProjectCertificateOut | None


def certificate_out(cert: ProjectDeletionCertificate) -> ProjectCertificateOut:
    return ProjectCertificateOut(
        id=cert.id, request_id=cert.request_id, org_id=cert.org_id, project_id=cert.project_id,
        project_name_hash=cert.project_name_hash, requested_by=cert.requested_by,
        workflow_id=cert.workflow_id, run_id=cert.run_id,
        steps=[StepOut(**s) for s in cert.steps], counts=cert.counts,
        verification=cert.verification, created_at=cert.created_at, signed=cert.signed)


def from_progress(row: ProjectDeletionRequest, progress: DeletionProgress, run_id: str | None,
                  records_purged: int,
                  cert: ProjectCertificateOut | None) -> DeletionStatus:
    return DeletionStatus(
        request_id=row.id, project_id=row.project_id, request_status=row.status.value,
        workflow_id=row.workflow_id, run_id=run_id, source="workflow", status=progress.status,
        current_step=progress.current_step,
        steps=[StepOut(**asdict(s)) for s in progress.steps], percent=progress.percent,
        grace_deadline=progress.grace_deadline, cancellable=progress.cancellable,
        snapshot=progress.snapshot, deleted=progress.deleted, records_purged=records_purged,
        last_error=progress.last_error, certificate=cert)


def from_row(row: ProjectDeletionRequest, records_purged: int,
             cert: ProjectCertificateOut | None) -> DeletionStatus:
    """What the database alone knows: before the workflow started, or after its history went."""
    done = cert is not None
    return DeletionStatus(
        request_id=row.id, project_id=row.project_id, request_status=row.status.value,
        workflow_id=row.workflow_id, run_id=row.run_id,
        source="certificate" if done else "request", status=row.status.value,
        current_step=None, steps=cert.steps if cert else [], percent=100.0 if done else 0.0,
        grace_deadline=None, cancellable=False, snapshot={},
        deleted=cert.counts if cert else {}, records_purged=records_purged,
        last_error=row.detail or None, certificate=cert)
