"""Subscriptions: subscribe, list, unsubscribe one job plan, cancel the workspace capacity plan.

Subscribing runs as `SubscriptionCreateWorkflow` through the billing gateway, with the
caller's idempotency key (the `Idempotency-Key` header, or `idempotency_key` in the body): the
same key again answers 200 with the subscription it made (`replayed: true`), never a second
one; the same key with another plan is a 409. The checks that can be answered at once (a
usable card on file, one workspace capacity plan at most) are made before the start.

The cancels run as `SubscriptionCancelWorkflow` (durable: a crash mid-cancel is retried to the
end by Temporal, not lost with the request). The route checks what it can answer at once (who
may call, that the subscription exists and is of the right kind), then starts the workflow with
`USE_EXISTING`, so two clicks share one execution, and waits a bounded time for its result.

Already cancelled is not an error: the call answers 200 with `status: cancelled` and
`already_cancelled: true`, so a client retrying after a lost response sees success, not a 409.
When no worker finishes the cancel within the `api_workflow_wait_seconds` setting, the
answer is a 202 with
`pending: true` naming the workflow: the cancel is durably queued (that is the point of the
workflow) and repeating the call joins the same execution and returns its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError

from api.auth import KeyCommittedDep, KeyDep, Principal
from api.deps import SessionDep, SessionFactoryDep, SettingsDep, TemporalClientDep
from api.guards import org_or_404, writable_org
from api.one_hop import OneHopRoute
from api.params import OrgId, PageCursor, PageLimit, SubscriptionId
from api.problems import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    OrgFrozen,
    Unauthorized,
    Unavailable,
    problem_responses,
)
from clients.subscriptions import start_cancel, start_subscribe
from contracts.subscriptions import (
    CAPACITY_ACTIVE,
    ORG_NOT_ACTIVE,
    SUBSCRIPTION_NOT_FOUND,
    SubscribeInput,
    SubscribeResult,
    SubscriptionCancelInput,
    subscription_cancel_workflow_id,
    subscription_create_workflow_id,
)
from core.settings import Settings
from core.text import OneLine
from services import subscriptions as service
from store import subscriptions
from store.models import Subscription, SubscriptionKind, SubscriptionStatus

router = APIRouter(route_class=OneHopRoute, tags=["subscriptions"])

READ_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput)
CANCEL_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput, Conflict,
                                  Unavailable)


class SubscriptionOut(BaseModel):
    id: str
    kind: SubscriptionKind
    plan: str
    status: SubscriptionStatus
    created_at: datetime
    cancelled_at: datetime | None


class SubscriptionPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "id": "5f0c...", "kind": "job_plan", "plan": "job-plan-0", "status": "active",
        "created_at": "2025-01-01T00:00:00Z", "cancelled_at": None}], "next_cursor": None}]})

    items: list[SubscriptionOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class CancelOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "subscription_id": "5f0c...", "kind": "job_plan", "status": "cancelled",
        "cancelled_at": "2025-01-02T10:00:00+00:00", "already_cancelled": False,
        "workflow_id": "subscription-cancel-5f0c..."}]})

    subscription_id: str
    kind: SubscriptionKind
    status: SubscriptionStatus
    cancelled_at: datetime | None
    already_cancelled: bool = Field(
        description="true when an earlier call (or a teardown) had already cancelled it")
    workflow_id: str | None = Field(
        description="the cancel workflow; null when it was already cancelled before this call")
    pending: bool = Field(False, description="true (with status 202) when the cancel is "
                          "queued but not finished yet: repeat the call for its result")


PENDING: dict[int | str, dict[str, Any]] = {202: {
    "model": CancelOut, "description": "Queued, not finished yet (`pending: true`)"}}
PLAN_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"  # printable ASCII, no spaces (as payment providers ask)
SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "id": "5f0c...", "kind": "job_plan", "plan": "job-plan-gpu", "status": "active",
    "created_at": "2026-01-01T00:00:00Z", "cancelled_at": None}


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "job_plan", "plan": "job-plan-gpu"},
        {"kind": "workspace_capacity", "plan": "workspace-capacity-standard",
         "idempotency_key": "7d3f1c9e-capacity"}]})

    kind: SubscriptionKind
    plan: OneLine = Field(pattern=PLAN_PATTERN, description="the plan's catalog name")
    idempotency_key: OneLine | None = Field(
        None, pattern=KEY_PATTERN,
        description="names this request; the `Idempotency-Key` header may carry it instead")


class SubscribeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "subscription": SUBSCRIPTION_EXAMPLE, "replayed": False,
        "workflow_id": "subscription-create-3f1c...-9a0b...", "pending": False}]})

    subscription: SubscriptionOut | None = Field(description="null while `pending`")
    replayed: bool = Field(description="true when an earlier call with this idempotency key "
                           "made the subscription (answered 200)")
    workflow_id: str
    pending: bool = Field(False, description="true (with status 202) when the subscribe is "
                          "queued but not finished: repeat the call, same key, for its result")


SUBSCRIBE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": SubscribeOut, "description": "Already subscribed with this key"},
    202: {"model": SubscribeOut, "description": "Queued, not finished yet (`pending: true`)"},
    **problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput, Conflict,
                        Unavailable)}


def _out(row: Subscription) -> SubscriptionOut:
    return SubscriptionOut(id=row.id, kind=row.kind, plan=row.plan, status=row.status,
                           created_at=row.created_at, cancelled_at=row.cancelled_at)


@router.get("/orgs/{org_id}/subscriptions", response_model=SubscriptionPage,
            responses=READ_ERRORS,
            summary="The org's subscriptions, active and cancelled (any member of the org)")
def list_subscriptions(org_id: OrgId, principal: KeyDep, session: SessionDep,
                       limit: PageLimit = 50, cursor: PageCursor = "") -> SubscriptionPage:
    principal.require_team(org_id)
    org_or_404(session, org_id)
    rows, next_cursor = subscriptions.list_subscriptions(session, org_id, limit=limit,
                                                         after=cursor)
    return SubscriptionPage(items=[_out(r) for r in rows], next_cursor=next_cursor)


def _idempotency_key(header: str | None, body: SubscribeIn) -> str:
    if header is not None and body.idempotency_key is not None \
            and header != body.idempotency_key:
        raise InvalidInput("the Idempotency-Key header and idempotency_key differ",
                           field="idempotency_key")
    key = header if header is not None else body.idempotency_key
    if key is None:
        raise InvalidInput("send an Idempotency-Key header (or idempotency_key) naming this "
                           "request, so a retry cannot subscribe twice", field="idempotency_key")
    return key


def _earlier(factory: sessionmaker[Session], org_id: str, body: SubscribeIn,
             key: str) -> Subscription | None:
    """The checks, in a transaction of their own that ends before the workflow runs (see
    `_checked`); the activity checks again under the org row lock."""
    with factory.begin() as session:
        return service.earlier_subscription(session, org_id, body.kind, body.plan, key)


def _subscribed(result: SubscribeResult) -> SubscriptionOut:
    return SubscriptionOut(id=result.subscription_id, kind=SubscriptionKind(result.kind),
                           plan=result.plan, status=SubscriptionStatus(result.status),
                           created_at=datetime.fromisoformat(result.created_at),
                           cancelled_at=None)


@router.post("/orgs/{org_id}/subscriptions", status_code=201, response_model=SubscribeOut,
             responses=SUBSCRIBE_RESPONSES,
             summary="Subscribe to a job plan or to workspace capacity (admin; idempotent "
                     "with an Idempotency-Key)")
async def subscribe(org_id: OrgId, body: SubscribeIn, principal: KeyCommittedDep,
                    factory: SessionFactoryDep, settings: SettingsDep,
                    client: TemporalClientDep, response: Response,
                    idempotency_key: Annotated[OneLine | None, Header(
                        alias="Idempotency-Key", pattern=KEY_PATTERN,
                        description="names this request: a retry with it subscribes once")
                    ] = None) -> SubscribeOut:
    principal.require_admin(org_id)
    key = _idempotency_key(idempotency_key, body)
    workflow_id = subscription_create_workflow_id(org_id, key)
    earlier = await run_in_threadpool(_earlier, factory, org_id, body, key)
    if earlier is not None:
        response.status_code = 200
        return SubscribeOut(subscription=_out(earlier), replayed=True, workflow_id=workflow_id)
    inp = SubscribeInput(org_id=org_id, kind=body.kind.value, plan=body.plan,
                         idempotency_key=key, actor=principal.actor)
    try:
        handle = await start_subscribe(client, settings.task_queue, inp)
        result = await asyncio.wait_for(handle.result(), settings.api_workflow_wait_seconds)
    except TimeoutError:
        response.status_code = 202
        return SubscribeOut(subscription=None, replayed=False, workflow_id=workflow_id,
                            pending=True)
    except WorkflowFailureError as exc:
        raise _failure(exc, workflow_id) from None
    except RPCError as exc:
        raise Unavailable(f"Temporal: {exc.message}", workflow_id=workflow_id) from None
    if (result.kind, result.plan) != (body.kind.value, body.plan):
        raise service.IdempotencyKeyReused(
            "this Idempotency-Key already subscribed the organization to another plan",
            subscription_id=result.subscription_id)
    if result.replayed:
        response.status_code = 200
    return SubscribeOut(subscription=_subscribed(result), replayed=result.replayed,
                        workflow_id=workflow_id)


def _already(row: Subscription) -> CancelOut:
    return CancelOut(subscription_id=row.id, kind=row.kind, status=row.status,
                     cancelled_at=row.cancelled_at, already_cancelled=True, workflow_id=None)


@dataclass(frozen=True)
class CancelTarget:
    """Who asks, and the subscription they may cancel: checked before the workflow starts."""

    principal: Principal
    row: Subscription


def _checked(factory: sessionmaker[Session], principal: Principal, org_id: str,
             find: Callable[[Session], Subscription]) -> CancelTarget:
    """The cancel routes' checks, in a transaction of their own that ends here.

    Why not the request's transaction: it lasts until the route returns, and the route waits
    for the cancel workflow, whose activity takes the org row lock these checks take (on SQLite,
    the database's one write lock), so every cancel would wait for the route's own timeout. The
    activity checks again under that lock: a teardown freezing the org in between is refused.
    """
    principal.require_admin(org_id)
    with factory.begin() as session:
        writable_org(session, org_id)
        return CancelTarget(principal, find(session))


def job_plan_target(principal: KeyCommittedDep, org_id: OrgId, sub_id: SubscriptionId,
                    factory: SessionFactoryDep) -> CancelTarget:
    """The job plan to unsubscribe (see `_checked` for its own transaction)."""
    def find(session: Session) -> Subscription:
        row = subscriptions.get_subscription(session, org_id, sub_id)
        if row is None:
            raise NotFound(f"subscription {sub_id} is not in this organization")
        if row.kind is not SubscriptionKind.JOB_PLAN:
            raise InvalidInput("only job plans are unsubscribed here; the workspace capacity "
                               f"plan is cancelled with POST /orgs/{org_id}/workspace-capacity"
                               "/cancel", kind=row.kind.value)
        return row

    return _checked(factory, principal, org_id, find)


def capacity_plan_target(principal: KeyCommittedDep, org_id: OrgId,
                         factory: SessionFactoryDep) -> CancelTarget:
    """The workspace capacity plan to cancel (see `_checked` for its own transaction)."""
    def find(session: Session) -> Subscription:
        row = subscriptions.capacity_plan(session, org_id)
        if row is None:
            raise NotFound("this organization has no workspace capacity plan")
        return row

    return _checked(factory, principal, org_id, find)


JobPlanTarget = Annotated[CancelTarget, Depends(job_plan_target)]
CapacityPlanTarget = Annotated[CancelTarget, Depends(capacity_plan_target)]


async def _cancel(client: Client, settings: Settings, principal: Principal,
                  row: Subscription, response: Response) -> CancelOut:
    if row.status is SubscriptionStatus.CANCELLED:
        return _already(row)
    workflow_id = subscription_cancel_workflow_id(row.id)
    inp = SubscriptionCancelInput(org_id=row.org_id, subscription_id=row.id,
                                  kind=row.kind.value, actor=principal.actor)
    try:
        handle = await start_cancel(client, settings.task_queue, inp)
        result = await asyncio.wait_for(handle.result(), settings.api_workflow_wait_seconds)
    except TimeoutError:
        response.status_code = 202
        return CancelOut(subscription_id=row.id, kind=row.kind, status=row.status,
                         cancelled_at=None, already_cancelled=False, workflow_id=workflow_id,
                         pending=True)
    except WorkflowFailureError as exc:
        raise _failure(exc, workflow_id) from None
    except RPCError as exc:
        raise Unavailable(f"Temporal: {exc.message}", workflow_id=workflow_id) from None
    return CancelOut(subscription_id=result.subscription_id,
                     kind=SubscriptionKind(result.kind),
                     status=SubscriptionStatus(result.status),
                     cancelled_at=datetime.fromisoformat(result.cancelled_at)
                     if result.cancelled_at else None,
                     already_cancelled=result.already_cancelled, workflow_id=workflow_id)


def _failure(exc: WorkflowFailureError, workflow_id: str) -> Exception:
    """The activity's final error as the problem it stands for (races the preflight lost)."""
    cause = exc.cause.cause if isinstance(exc.cause, ActivityError) else exc.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    message = cause.message if isinstance(cause, ApplicationError) else str(exc)
    if kind == ORG_NOT_ACTIVE:
        return OrgFrozen(message, workflow_id=workflow_id)
    if kind == SUBSCRIPTION_NOT_FOUND:
        return NotFound(message, workflow_id=workflow_id)
    if kind == CAPACITY_ACTIVE:
        return service.CapacityActive(message, workflow_id=workflow_id)
    return Conflict(f"the call failed: {message}", workflow_id=workflow_id)


@router.post("/orgs/{org_id}/subscriptions/{sub_id}/unsubscribe", response_model=CancelOut,
             responses={**CANCEL_ERRORS, **PENDING},
             summary="Unsubscribe one job plan (admin; idempotent, 200 when already cancelled)")
async def unsubscribe(target: JobPlanTarget, settings: SettingsDep, client: TemporalClientDep,
                      response: Response) -> CancelOut:
    return await _cancel(client, settings, target.principal, target.row, response)


@router.post("/orgs/{org_id}/workspace-capacity/cancel", response_model=CancelOut,
             responses={**CANCEL_ERRORS, **PENDING},
             summary="Cancel the workspace capacity plan (admin; idempotent)")
async def cancel_capacity(target: CapacityPlanTarget, settings: SettingsDep,
                          client: TemporalClientDep, response: Response) -> CancelOut:
    return await _cancel(client, settings, target.principal, target.row, response)
