"""The danger zone: plan, start, watch, cancel and expedite an org teardown.

The API keeps no teardown state: it starts the workflow (whose id is derived from the org, so a
second start is refused by Temporal itself: one teardown per org), sends it updates and asks
its `progress` query. Starting freezes the org, which turns off its keys; these routes
alone accept the admin's team key of a frozen org (`TeardownKeyDep`) so the admin can still
watch and cancel. Once the org is deleted its keys are gone too: the finished teardown's status
and certificate are then the operator's to read (`OperatorOrAdminDep`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
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
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import OperatorOrAdminDep, Principal, TeardownKeyDep
from api.deps import SessionDep, SettingsDep, TemporalClientDep
from api.one_hop import OneHopRoute
from api.params import OrgId
from api.problems import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    Unauthorized,
    Unavailable,
    problem_responses,
)
from api.teardown_models import (
    CancelIn,
    CertificateOut,
    DecisionOut,
    PlanOut,
    TeardownStart,
    TeardownStarted,
    TeardownStatus,
    certificate_out,
    plan_out,
    status_from_certificate,
    status_from_progress,
)
from clients import teardown as teardown_client
from clients.teardown import (
    query_progress,
    start_teardown,
    teardown_handle,
    teardown_input,
)
from contracts.teardown import CancelRequest, ExpediteRequest, teardown_workflow_id
from core.grace import GraceWindow, grace_window
from core.receipts import make_receipt
from core.settings import Settings
from core.temporal import is_transient
from services import teardown as teardown_service
from store import orgs
from store import teardown as teardown_store
from store.audit import audit
from store.base import utcnow
from store.models import OrgStatus
from store.plan import compute_plan

RECEIPT_VALID_AFTER_GRACE_S = 30 * 24 * 3600

router = APIRouter(route_class=OneHopRoute, tags=["teardown"])

QUERY_TIMEOUT = timedelta(seconds=10)
BASE_ERRORS = (Unauthorized, NotPermitted, NotFound, Unavailable)


class TeardownRunning(Conflict):
    slug = "teardown-running"
    title = "A teardown is already under way"


class TeardownBlocked(Conflict):
    slug = "teardown-blocked"
    title = "The teardown is blocked"


class NotCancellable(Conflict):
    slug = "teardown-not-cancellable"
    title = "The teardown cannot be changed now"


def _requested_by(principal: Principal) -> str:
    return f"member:{principal.member_id}" if principal.member_id else principal.actor


@router.get("/orgs/{org_id}/teardown/plan", response_model=PlanOut,
            summary="Dry run: what a teardown would delete, blockers, confirmation phrase, "
                    "the grace bounds and the earliest deletion time",
            responses=problem_responses(*BASE_ERRORS))
def get_plan(org_id: OrgId, principal: TeardownKeyDep, session: SessionDep,
             settings: SettingsDep) -> PlanOut:
    principal.require_admin(org_id)
    plan = compute_plan(session, org_id)
    if plan is None:
        raise NotFound(f"organization {org_id} does not exist")
    return plan_out(plan, teardown_window(settings))


def teardown_window(settings: Settings) -> GraceWindow:
    """The window a start without `grace_seconds` gets, and when it would delete, from now."""
    return GraceWindow.of(utcnow(), settings.teardown_grace_seconds,
                          settings.min_grace_seconds, settings.max_grace_seconds)


@dataclass(frozen=True)
class Preflight:
    status: OrgStatus
    request_id: str | None  # None: a teardown is under way and keeps its own request


def _preflight(session: Session, org_id: str, confirm_name: str, grace_seconds: int,
               min_grace_seconds: int, actor: str) -> Preflight:
    """Lock the org, check it may be torn down and write the request the workflow will act on,
    in this one transaction, then commit it (the workflow's first activity must find it).

    An active org with a live request (written before Temporal refused a start) gets that
    request back; a frozen or deleting org with none (its teardown failed) gets a new one,
    which resumes the teardown.
    """
    try:
        org = orgs.lock_org(session, org_id)
    except orgs.OrgMissing:
        raise NotFound(f"organization {org_id} does not exist") from None
    live = teardown_service.live_request(session, org_id)
    if live is not None and org.status is not OrgStatus.ACTIVE:
        return Preflight(org.status, None)
    if confirm_name != org.name:
        raise InvalidInput("the confirmation does not match the organization's name",
                           field="confirm_name")
    if org.status is OrgStatus.ACTIVE:
        plan = compute_plan(session, org_id)
        blocking = [b for b in plan.blockers if b.blocking] if plan else []
        if blocking:
            raise TeardownBlocked("; ".join(b.reason for b in blocking),
                                  blockers=[{"code": b.code, "reason": b.reason,
                                             "detail": b.detail} for b in blocking])
    row = live or teardown_service.record_request(
        session, org_id, actor=actor, grace_seconds=grace_seconds,
        min_grace_seconds=min_grace_seconds)
    request_id = row.id
    session.commit()
    return Preflight(org.status, request_id)


@router.post("/orgs/{org_id}/teardown", status_code=202, response_model=TeardownStarted,
             summary="Start deleting the organization (admin; typed name as confirmation)",
             responses=problem_responses(*BASE_ERRORS, InvalidInput, Conflict))
async def start(org_id: OrgId, body: TeardownStart, principal: TeardownKeyDep,
                session: SessionDep, settings: SettingsDep,
                client: TemporalClientDep) -> TeardownStarted:
    principal.require_admin(org_id)
    grace = grace_window(body.grace_seconds, settings.teardown_grace_seconds,
                         settings.min_grace_seconds, settings.max_grace_seconds)
    checked = await run_in_threadpool(_preflight, session, org_id, body.confirm_name, grace,
                                      settings.min_grace_seconds, _requested_by(principal))
    workflow_id = teardown_workflow_id(org_id)
    if checked.request_id is None:
        run_id = await _running_run_id(client, org_id)
        raise TeardownRunning(f"the organization is {checked.status.value}: a teardown is "
                              "under way", workflow_id=workflow_id, run_id=run_id)
    inp = teardown_input(settings, org_id, checked.request_id)
    try:
        handle = await start_teardown(client, settings, inp)
    except WorkflowAlreadyStartedError as exc:
        raise TeardownRunning("a teardown of this organization was already started",
                              workflow_id=workflow_id, run_id=exc.run_id) from None
    run_id = handle.result_run_id or ""
    await run_in_threadpool(audit, session, org_id, principal.actor, "teardown.started",
                            f"workflow:{workflow_id}", run_id=run_id,
                            request_id=checked.request_id, grace_seconds=grace)
    valid_until = int(time.time()) + grace + RECEIPT_VALID_AFTER_GRACE_S
    return TeardownStarted(workflow_id=workflow_id, run_id=run_id,
                           status_url=f"/orgs/{org_id}/teardown",
                           certificate_url=f"/orgs/{org_id}/teardown/certificate",
                           certificate_receipt=make_receipt(org_id, valid_until,
                                                            settings.pepper_bytes))


async def _running_run_id(client: TemporalClientDep, org_id: str) -> str | None:
    try:
        desc = await teardown_handle(client, org_id).describe()
    except RPCError:
        return None
    return desc.run_id


async def _certificate_out(session: Session, org_id: str) -> CertificateOut | None:
    row = await run_in_threadpool(teardown_store.certificate_of, session, org_id)
    return certificate_out(row) if row else None


@router.get("/orgs/{org_id}/teardown", response_model=TeardownStatus,
            summary="Live progress; after completion, the deletion certificate",
            responses=problem_responses(*BASE_ERRORS))
async def status(org_id: OrgId, caller: OperatorOrAdminDep, session: SessionDep,
                 client: TemporalClientDep) -> TeardownStatus:
    if isinstance(caller, Principal):
        caller.require_admin(org_id)
    handle = teardown_handle(client, org_id)
    try:
        desc = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            cert = await _certificate_out(session, org_id)
            if cert is not None:  # the history was already cleaned up; the proof remains
                return status_from_certificate(cert)
            raise NotFound("no teardown was started for this organization") from None
        raise Unavailable(f"Temporal: {exc.message}") from None
    try:
        if desc.status is WorkflowExecutionStatus.COMPLETED:
            progress = await handle.result()
        else:  # running, or failed: the query still answers from the replayed state
            progress = await query_progress(handle, QUERY_TIMEOUT)
    except (WorkflowFailureError, WorkflowQueryFailedError):
        ended = desc.status.name.lower() if desc.status else "unknown"
        raise Conflict(f"the teardown ended as {ended}", workflow_id=desc.id,
                       run_id=desc.run_id) from None
    except RPCError as exc:
        raise Unavailable(f"no worker answered the progress query: {exc.message}") from None
    # Read after the workflow answered: it reports "completed" only once the certificate is
    # committed, and its last steps follow each other within milliseconds (local activities),
    # so a certificate read before the query could miss a row the answer already vouches for.
    cert = await _certificate_out(session, org_id)
    return status_from_progress(progress, desc.id, desc.run_id, cert)


async def _decide(client: TemporalClientDep, org_id: str,
                  request: CancelRequest | ExpediteRequest) -> DecisionOut:
    handle = teardown_handle(client, org_id)
    try:
        if isinstance(request, CancelRequest):
            result = await teardown_client.cancel(handle, request)
            return DecisionOut(accepted=result.cancelled, detail=result.detail)
        done = await teardown_client.expedite(handle, request)
        return DecisionOut(accepted=True, detail=done.detail)
    except WorkflowUpdateFailedError as exc:
        # the validator's own words: `str()` of the cause would prefix its error type
        cause = exc.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        raise NotCancellable(reason, workflow_id=handle.id) from None
    except RPCError as exc:
        if is_transient(exc):
            raise Unavailable(f"Temporal: {exc.message}") from None
        if exc.status is RPCStatusCode.NOT_FOUND:
            if await _running_run_id(client, org_id) is None:
                raise NotFound("no teardown was started for this organization") from None
            raise NotCancellable("the teardown has already ended", workflow_id=handle.id
                                 ) from None
        raise NotCancellable(f"the teardown cannot take this request: {exc.message}",
                             workflow_id=handle.id) from None


@router.post("/orgs/{org_id}/teardown/cancel", response_model=DecisionOut,
             summary="Cancel during the grace window (refused after the point of no return)",
             responses=problem_responses(*BASE_ERRORS, Conflict))
async def cancel(org_id: OrgId, principal: TeardownKeyDep, session: SessionDep,
                 client: TemporalClientDep, body: CancelIn | None = None) -> DecisionOut:
    principal.require_admin(org_id)
    reason = body.reason if body else ""
    out = await _decide(client, org_id,
                        CancelRequest(requested_by=_requested_by(principal), reason=reason))
    await run_in_threadpool(audit, session, org_id, principal.actor, "teardown.cancel",
                            f"workflow:{teardown_workflow_id(org_id)}", accepted=out.accepted)
    return out


@router.post("/orgs/{org_id}/teardown/expedite", response_model=DecisionOut,
             summary="End the grace window now and proceed with the deletion",
             responses=problem_responses(*BASE_ERRORS, Conflict))
async def expedite(org_id: OrgId, principal: TeardownKeyDep, session: SessionDep,
                   client: TemporalClientDep) -> DecisionOut:
    principal.require_admin(org_id)
    out = await _decide(client, org_id,
                        ExpediteRequest(requested_by=_requested_by(principal)))
    await run_in_threadpool(audit, session, org_id, principal.actor, "teardown.expedite",
                            f"workflow:{teardown_workflow_id(org_id)}")
    return out
