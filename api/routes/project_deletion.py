"""Deleting one project: request, watch, cancel and expedite its `ProjectDeletionWorkflow`.

The request is the org admin's, confirmed with the project's exact name. The route writes the
request row (the authority the workflow acts on) and commits it, then starts the workflow,
whose id is derived from the project: a second request while one is live answers 409 naming
it, after making sure its workflow runs (a first start that failed is retried this way).
The status reads the workflow's `progress` query while it runs and its result or the
certificate after; records purged so far come live from the purge's ledger.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.auth import KeyDep, Principal
from api.deps import SessionDep, SettingsDep, TemporalClientDep
from api.one_hop import OneHopRoute
from api.params import OrgId, ProjectId
from api.problems import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    Unauthorized,
    Unavailable,
    problem_responses,
)
from api.project_deletion_models import (
    DeletionIn,
    DeletionStarted,
    DeletionStatus,
    ProjectCertificateOut,
    certificate_out,
    from_progress,
    from_row,
)
from api.teardown_models import DecisionOut
from clients import project_deletion as deletions
from contracts.project_deletion import DeletionCancel, DeletionExpedite
from core.grace import grace_window
from core.settings import Settings
from services import project_deletion as service
from store import ledger, project_deletions
from store.audit import audit
from store.models import ProjectDeletionRequest

router = APIRouter(route_class=OneHopRoute, tags=["projects"])

QUERY_TIMEOUT = timedelta(seconds=10)
BASE = "/orgs/{org_id}/projects/{project_id}/deletion"
BASE_ERRORS = (Unauthorized, NotPermitted, NotFound, InvalidInput, Unavailable)


class DeletionRunning(Conflict):
    slug = "project-deletion-running"
    title = "A deletion of this project is already under way"


class NotCancellable(Conflict):
    slug = "project-deletion-not-cancellable"
    title = "The project deletion cannot be changed now"


def _request(session: Session, settings: Settings, principal: Principal, org_id: str,
             project_id: str, body: DeletionIn) -> service.Requested:
    grace = grace_window(body.grace_seconds, settings.project_deletion_grace_seconds,
                         settings.min_grace_seconds, settings.max_grace_seconds)
    requested = service.request_deletion(session, org_id, project_id,
                                         confirm_name=body.confirm_name, grace_seconds=grace,
                                         actor=principal.actor,
                                         min_grace_seconds=settings.min_grace_seconds)
    session.commit()  # the workflow's first activity must find the row
    return requested


@router.post(BASE, status_code=202, response_model=DeletionStarted,
             summary="Delete the project (admin; its exact name as confirmation)",
             responses=problem_responses(*BASE_ERRORS, Conflict))
async def request_deletion(org_id: OrgId, project_id: ProjectId, body: DeletionIn,
                           principal: KeyDep, session: SessionDep, settings: SettingsDep,
                           client: TemporalClientDep) -> DeletionStarted:
    principal.require_admin(org_id)
    requested = await run_in_threadpool(_request, session, settings, principal, org_id,
                                        project_id, body)
    row = requested.request
    try:
        handle = await deletions.start_deletion(
            client, settings.task_queue,
            deletions.deletion_input(settings, org_id, project_id, row.id))
    except RPCError as exc:
        raise Unavailable(f"Temporal: {exc.message}; the request is kept: ask again to start "
                          "it", request_id=row.id) from None
    run_id = handle.result_run_id or ""
    if not requested.created:
        raise DeletionRunning("a deletion of this project was already requested",
                              request_id=row.id, workflow_id=row.workflow_id, run_id=run_id)
    return DeletionStarted(request_id=row.id, workflow_id=row.workflow_id, run_id=run_id,
                           status_url=BASE.format(org_id=org_id, project_id=project_id))


def _latest(session: Session, org_id: str, project_id: str) -> ProjectDeletionRequest:
    """The project's latest request; ends the request's transaction, whose write lock (on
    SQLite, from the key's last-used stamp) the workflow's activities would wait for."""
    row = project_deletions.latest_request(session, org_id, project_id)
    if row is None:
        raise NotFound("no deletion was requested for this project")
    session.commit()
    return row


def _stored(session: Session, row: ProjectDeletionRequest
            ) -> tuple[int, ProjectCertificateOut | None]:
    purged = ledger.total(session, row.org_id, f"records:{row.project_id}:")
    cert = project_deletions.certificate(session, row.id)
    return purged, certificate_out(cert) if cert else None


@router.get(BASE, response_model=DeletionStatus, responses=problem_responses(*BASE_ERRORS),
            summary="Progress of the project's deletion; after completion, its certificate")
async def deletion_status(org_id: OrgId, project_id: ProjectId, principal: KeyDep,
                          session: SessionDep, client: TemporalClientDep) -> DeletionStatus:
    principal.require_admin(org_id)
    row = await run_in_threadpool(_latest, session, org_id, project_id)
    handle = deletions.deletion_handle(client, project_id, row.run_id)
    try:
        desc = await handle.describe() if row.run_id else None
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise Unavailable(f"Temporal: {exc.message}") from None
        desc = None
    if desc is None:  # not started yet, or its history is gone: the database knows the rest
        purged, cert = await run_in_threadpool(_stored, session, row)
        return from_row(row, purged, cert)
    try:
        if desc.status is WorkflowExecutionStatus.COMPLETED:
            progress = await handle.result()
        else:  # running, or failed: the query still answers from the replayed state
            progress = await deletions.query_progress(handle, QUERY_TIMEOUT)
    except (WorkflowFailureError, WorkflowQueryFailedError):
        purged, cert = await run_in_threadpool(_stored, session, row)
        return from_row(row, purged, cert)
    except RPCError as exc:
        raise Unavailable(f"no worker answered the progress query: {exc.message}") from None
    # read after the workflow answered: "completed" is reported only once the certificate is in
    session.expire_all()
    row = await run_in_threadpool(_latest, session, org_id, project_id)
    purged, cert = await run_in_threadpool(_stored, session, row)
    return from_progress(row, progress, desc.run_id, purged, cert)


async def _decide(client: TemporalClientDep, session: Session, org_id: str, project_id: str,
                  request: DeletionCancel | DeletionExpedite) -> DecisionOut:
    row = await run_in_threadpool(_latest, session, org_id, project_id)
    if row.status not in project_deletions.LIVE:
        raise NotCancellable(f"the deletion is {row.status.value}", request_id=row.id)
    handle = deletions.deletion_handle(client, project_id)
    try:
        if isinstance(request, DeletionCancel):
            result = await deletions.cancel(handle, request)
        else:
            result = await deletions.expedite(handle, request)
    except WorkflowUpdateFailedError as exc:
        reason = str(exc.cause) if exc.cause else str(exc)
        raise NotCancellable(reason, request_id=row.id) from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise NotCancellable("the deletion's workflow has not started or has ended: ask "
                                 "for the deletion again to start it", request_id=row.id
                                 ) from None
        raise Unavailable(f"Temporal: {exc.message}") from None
    return DecisionOut(accepted=result.accepted, detail=result.detail)


@router.post(BASE + "/cancel", response_model=DecisionOut,
             summary="Cancel during the grace window (refused once the purge has started)",
             responses=problem_responses(*BASE_ERRORS, Conflict))
async def cancel(org_id: OrgId, project_id: ProjectId, principal: KeyDep, session: SessionDep,
                 client: TemporalClientDep) -> DecisionOut:
    principal.require_admin(org_id)
    out = await _decide(client, session, org_id, project_id,
                        DeletionCancel(requested_by=principal.actor))
    await run_in_threadpool(audit, session, org_id, principal.actor, "project.deletion_cancel",
                            f"project:{project_id}", accepted=out.accepted)
    return out


@router.post(BASE + "/expedite", response_model=DecisionOut,
             summary="End the grace window now and delete the project",
             responses=problem_responses(*BASE_ERRORS, Conflict))
async def expedite(org_id: OrgId, project_id: ProjectId, principal: KeyDep,
                   session: SessionDep, client: TemporalClientDep) -> DecisionOut:
    principal.require_admin(org_id)
    out = await _decide(client, session, org_id, project_id,
                        DeletionExpedite(requested_by=principal.actor))
    await run_in_threadpool(audit, session, org_id, principal.actor,
                            "project.deletion_expedite", f"project:{project_id}")
    return out
