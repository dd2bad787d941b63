"""Request and response bodies of the teardown endpoints, and their mapping from the workflow's
`Progress` and the stored `DeletionCertificate`.

Kept apart from the routes so the router stays a list of thin handlers.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.teardown import Progress
from core.grace import GRACE_CEILING, GraceWindow
from core.text import FreeText, OneLine
from store.models import DeletionCertificate
from store.plan import TeardownPlan


class BlockerOut(BaseModel):
    code: str = Field(description="unpaid_invoices | outstanding_usage | "
                      "project_deletions_running | not_active | active_job_plans | "
                      "workspace_capacity")
    reason: str
    blocking: bool
    detail: dict[str, Any] = Field(default_factory=dict,
                                   description="the counts and amounts behind `reason`")


class PlanOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "org_id": "3f1c...", "status": "active", "counts": {"projects": 2, "api_keys": 3},
        "blockers": [{"code": "active_job_plans", "reason": "2 job plan subscription(s) will "
                      "be cancelled", "blocking": False, "detail": {"count": 2}}],
        "blocked": False, "confirmation_phrase": "Acme Research", "grace_seconds": 604800,
        "min_grace_seconds": 86400, "max_grace_seconds": 2592000,
        "deletion_at": "2026-01-08T00:00:00+00:00",
        "earliest_deletion_at": "2026-01-02T00:00:00+00:00"}]})

    org_id: str
    status: str
    counts: dict[str, int] = Field(description="rows that would be deleted, per table")
    blockers: list[BlockerOut]
    blocked: bool = Field(description="a blocking item must be settled before a start")
    confirmation_phrase: str = Field(description="type exactly this as `confirm_name`")
    grace_seconds: int = Field(description="the grace window of a start without "
                                           "`grace_seconds` (the default, within the bounds)")
    min_grace_seconds: int = Field(description="no window is shorter, and `expedite` waits "
                                               "this long")
    max_grace_seconds: int = Field(description="no window is longer")
    deletion_at: datetime = Field(description="started now with the default window: when "
                                              "the deletion begins")
    earliest_deletion_at: datetime = Field(
        description="started now: the soonest the deletion can begin, the window ended early "
                    "with `expedite` (never before the minimum)")


class TeardownStart(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"confirm_name": "Acme Research", "grace_seconds": 604800}]})

    confirm_name: OneLine = Field(max_length=200, description="the org's exact name")
    grace_seconds: int | None = Field(None, ge=0, le=GRACE_CEILING,
                                      description="grace window; default from settings")


class TeardownStarted(BaseModel):
    workflow_id: str
    run_id: str
    status_url: str
    certificate_url: str = Field(description="where the deletion certificate can be read "
                                             "once issued, with `certificate_receipt`")
    certificate_receipt: str = Field(
        description="shown once: a bearer token for `certificate_url`, valid for the grace "
                    "window plus 30 days, so the requester can read the certificate after "
                    "the teardown has revoked every key of the org")


class StepOut(BaseModel):
    name: str
    status: str
    done: int
    total: int
    started_at: str | None
    finished_at: str | None


class CertificateOut(BaseModel):
    id: str
    org_id: str
    org_name_hash: str
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


class TeardownStatus(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "org_id": "3f1c...", "workflow_id": "org-teardown-3f1c...", "run_id": "0192...",
        "source": "workflow", "status": "grace", "current_step": "grace", "steps": [],
        "percent": 8.3, "grace_deadline": "2026-01-08T00:00:00+00:00", "cancellable": True,
        "records_purged": 0, "last_error": None, "certificate": None}]})

    org_id: str
    workflow_id: str
    run_id: str | None
    source: str = Field(description="workflow (live query or result) or certificate")
    status: str = Field(description="running | grace | cancelled | completed | failed")
    current_step: str | None
    steps: list[StepOut]
    percent: float
    grace_deadline: str | None
    cancellable: bool
    records_purged: int
    last_error: str | None
    certificate: CertificateOut | None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FreeText = Field("", max_length=500)


class DecisionOut(BaseModel):
    accepted: bool
    detail: str


def plan_out(plan: TeardownPlan, window: GraceWindow) -> PlanOut:
    return PlanOut(org_id=plan.org_id, status=plan.status, counts=plan.counts,
                   blockers=[BlockerOut(**asdict(b)) for b in plan.blockers],
                   blocked=plan.blocked, confirmation_phrase=plan.confirmation_phrase,
                   grace_seconds=window.seconds, min_grace_seconds=window.minimum,
                   max_grace_seconds=window.maximum, deletion_at=window.times.scheduled,
                   earliest_deletion_at=window.times.earliest)


def certificate_out(cert: DeletionCertificate) -> CertificateOut:
    return CertificateOut(id=cert.id, org_id=cert.org_id, org_name_hash=cert.org_name_hash,
                          requested_by=cert.requested_by, workflow_id=cert.workflow_id,
                          run_id=cert.run_id, steps=[StepOut(**s) for s in cert.steps],
                          counts=cert.counts, verification=cert.verification,
                          created_at=cert.created_at, signed=cert.signed)


def status_from_progress(progress: Progress, workflow_id: str, run_id: str | None,
                         certificate: CertificateOut | None = None) -> TeardownStatus:
    steps: list[Any] = [asdict(s) for s in progress.steps]
    return TeardownStatus(
        org_id=progress.org_id, workflow_id=workflow_id, run_id=run_id, source="workflow",
        status=progress.status, current_step=progress.current_step,
        steps=[StepOut(**s) for s in steps], percent=progress.percent,
        grace_deadline=progress.grace_deadline, cancellable=progress.cancellable,
        records_purged=progress.records_purged, last_error=progress.last_error,
        certificate=certificate)


def status_from_certificate(cert: CertificateOut) -> TeardownStatus:
    return TeardownStatus(
        org_id=cert.org_id, workflow_id=cert.workflow_id, run_id=cert.run_id,
        source="certificate", status="completed", current_step=None, steps=cert.steps,
        percent=100.0, grace_deadline=None, cancellable=False,
        records_purged=cert.counts.get("dataset_records", 0), last_error=None,
        certificate=cert)
