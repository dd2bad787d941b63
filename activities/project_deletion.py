"""The deletion of one project of a live org: claim, freeze, restore, verify, certify, fail.

The purge itself is the teardown's (`PurgeActivities.purge_project`, given the request id).
Everything here acts only on the request row the API wrote: the first activity claims it
(pending -> running, naming this run) and every later one checks that this run holds it, so a
workflow started with made-up input is refused before it touches anything. Audit events take
their actor from the row (the key that asked), or name the workflow for what it did on its own
(restoring after a cancel, recording a failure). Each activity is one transaction and safe to
run again after a crash at any line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities import requests
from activities.certificates import Issuer, project_payload
from activities.errors import ORG_NOT_FOUND, final, refuse_leftovers
from activities.requests import RequestRef
from activities.targets import extra_targets, target_counts, target_leftovers
from contracts.project_deletion import (
    DELETION_NOT_REQUESTED,
    PROJECT_NOT_FROZEN,
    ClaimResult,
    DeletionStep,
    FailureNote,
    ProjectCertificateInput,
    ProjectFreezeResult,
)
from contracts.subscriptions import ORG_NOT_ACTIVE
from core.name_hash import name_hash
from store import ledger, orgs, project_deletions, projects
from store.audit import audit
from store.models import (
    OrgStatus,
    Project,
    ProjectDeletionCertificate,
    ProjectDeletionRequest,
    ProjectDeletionStatus,
    ProjectStatus,
)
from store.targets import Scope

log = logging.getLogger(__name__)


def _ref(step: DeletionStep) -> RequestRef:
    return RequestRef(step.request_id, step.org_id, step.workflow_id, step.run_id,
                      DELETION_NOT_REQUESTED, "deletion request")


def snapshot_prefix(request_id: str) -> str:
    return f"project-deletion:{request_id}:snapshot:"


class ProjectDeletionActivities:
    def __init__(self, sessions: sessionmaker[Session], issuer: Issuer | None = None,
                 targets: Mapping[str, Any] | None = None) -> None:
        self.sessions = sessions
        self.issuer = issuer or Issuer()
        self.targets = dict(targets or {})  # deletion targets by name (store/target_set.py)

    def _held(self, session: Session, step: DeletionStep) -> ProjectDeletionRequest:
        """The request, locked, when this run holds it; a final refusal otherwise."""
        return requests.held(session, ProjectDeletionRequest, _ref(step),
                             project_id=step.project_id)

    @activity.defn
    def claim_deletion_request(self, step: DeletionStep) -> ClaimResult:
        """Take the unused request for this run, or refuse without touching anything."""
        with self.sessions.begin() as session:
            row, claimed = requests.claim(session, ProjectDeletionRequest, _ref(step),
                                          project_id=step.project_id)
            if claimed:
                audit(session, step.org_id, row.requested_by, "project.deletion_started",
                      f"project:{step.project_id}", request_id=row.id,
                      workflow_id=step.workflow_id, run_id=step.run_id)
            return ClaimResult(grace_seconds=row.grace_seconds,
                               min_grace_seconds=row.min_grace_seconds)

    @activity.defn
    def freeze_project(self, step: DeletionStep) -> ProjectFreezeResult:
        """Refuse the project's keys and writes, and snapshot what it holds (counted once)."""
        with self.sessions.begin() as session:
            row = self._held(session, step)
            try:
                org = orgs.lock_org(session, step.org_id)
            except orgs.OrgMissing:
                raise final(ORG_NOT_FOUND, f"organization {step.org_id} not found") from None
            project = projects.get_project(session, step.org_id, step.project_id, lock=True)
            if project is not None and project.status is ProjectStatus.ACTIVE:
                if org.status is not OrgStatus.ACTIVE:
                    raise final(ORG_NOT_ACTIVE, f"organization {step.org_id} is "
                                f"{org.status.value}: its teardown deletes the project")
                project.status = ProjectStatus.FROZEN
                audit(session, step.org_id, row.requested_by, "project.frozen",
                      f"project:{step.project_id}", request_id=row.id)
            prefix = snapshot_prefix(row.id)
            snapshot = {key.removeprefix(prefix): n
                        for key, n in ledger.entries(session, step.org_id, prefix).items()}
            if not snapshot:
                if project is None:
                    raise final(PROJECT_NOT_FROZEN, f"project {step.project_id} is gone and "
                                "this request never saw it")
                snapshot = {**project_deletions.stored_counts(session, step.project_id),
                            **target_counts(self.targets,
                                            Scope(step.org_id, step.project_id))}
                for table, n in snapshot.items():
                    ledger.record(session, step.org_id, prefix + table, n)
            return ProjectFreezeResult(
                project_name_hash=name_hash(project.name) if project else "",
                snapshot=snapshot,
                already_destructive=project is None or project.status is ProjectStatus.DELETING,
                targets=extra_targets(self.targets))

    @activity.defn
    def unfreeze_project(self, step: DeletionStep) -> None:
        """Cancel during grace: the project is exactly as before, the request cancelled."""
        with self.sessions.begin() as session:
            row = project_deletions.request_for(session, step.request_id, step.org_id,
                                                step.project_id, lock=True)
            if row is not None and row.status is ProjectDeletionStatus.CANCELLED:
                return  # restored by an earlier attempt
            row = self._held(session, step)
            project = projects.get_project(session, step.org_id, step.project_id, lock=True)
            if project is None or project.status is ProjectStatus.DELETING:
                raise final(PROJECT_NOT_FROZEN, "deletion already started: cannot restore")
            project.status = ProjectStatus.ACTIVE
            ledger.forget(session, step.org_id, snapshot_prefix(row.id))
            project_deletions.finish(row, ProjectDeletionStatus.CANCELLED)
            audit(session, step.org_id, f"workflow:{step.workflow_id}",
                  "project.deletion_cancelled", f"project:{step.project_id}", request_id=row.id)

    @activity.defn
    def begin_project_destruction(self, step: DeletionStep) -> None:
        """Mark the point of no return in the database too (project status `deleting`)."""
        with self.sessions.begin() as session:
            self._held(session, step)
            session.execute(update(Project).where(
                Project.id == step.project_id, Project.status == ProjectStatus.FROZEN)
                .values(status=ProjectStatus.DELETING))
            project = session.get(Project, step.project_id, populate_existing=True)
            if project is not None and project.status is not ProjectStatus.DELETING:
                raise final(PROJECT_NOT_FROZEN, f"project {step.project_id} is "
                            f"{project.status.value}: refusing to delete it")

    @activity.defn
    def verify_project_gone(self, step: DeletionStep) -> dict[str, int]:
        """Count what is left of the project in every table it had rows in; any leftover
        fails the deletion loudly instead of certifying it."""
        with self.sessions() as session:
            left = project_deletions.project_rows(session, step.project_id)
        left.update(target_leftovers(self.targets, Scope(step.org_id, step.project_id)))
        refuse_leftovers(left)
        return left

    @activity.defn
    def write_project_certificate(self, cert: ProjectCertificateInput) -> str:
        """Keep the proof (ids, a name hash, per-step times and counts) and close the request."""
        step = cert.step
        with self.sessions.begin() as session:
            existing = project_deletions.certificate(session, step.request_id)
            if existing is not None:
                return existing.id
            row = self._held(session, step)
            issued = ProjectDeletionCertificate(
                request_id=row.id, org_id=step.org_id, project_id=step.project_id,
                project_name_hash=cert.project_name_hash, requested_by=row.requested_by,
                workflow_id=step.workflow_id, run_id=step.run_id, steps=cert.steps,
                counts=cert.counts, verification=cert.verification)
            cert_id = project_deletions.add_certificate(session, issued)
            issued.signed = self.issuer.sign(project_payload(issued))
            project_deletions.finish(row, ProjectDeletionStatus.COMPLETED)
            audit(session, step.org_id, row.requested_by, "project.deleted",
                  f"project:{step.project_id}", request_id=row.id, certificate_id=cert_id,
                  **cert.counts)
        log.info("project %s deleted: %s", step.project_id, cert.counts)
        return cert_id

    @activity.defn
    def fail_deletion_request(self, note: FailureNote) -> None:
        """Close a request this run held as failed, with the reason; a project left frozen or
        deleting can be deleted again by a new request, which resumes the purge."""
        step = note.step
        with self.sessions.begin() as session:
            row = requests.release(session, ProjectDeletionRequest, _ref(step),
                                   ProjectDeletionStatus.FAILED, note.reason,
                                   project_id=step.project_id)
            if row is None:
                return  # never claimed by this run (refused at the claim), or closed already
            audit(session, step.org_id, f"workflow:{step.workflow_id}",
                  "project.deletion_failed", f"project:{step.project_id}", request_id=row.id,
                  reason=note.reason[:500])

    def all(self) -> list[Callable[..., Any]]:
        return [self.claim_deletion_request, self.freeze_project, self.unfreeze_project,
                self.begin_project_destruction, self.verify_project_gone,
                self.write_project_certificate, self.fail_deletion_request]
