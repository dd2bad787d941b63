"""Operator views of the workflows: list (Temporal visibility), describe, summarised history.

Cross-org and read-only, behind the operator credential. Everything comes from Temporal through
the client; each workflow links to the Temporal UI, where the full history lives. Filters are
validated against strict patterns before they go into a visibility query, so a query string can
never be smuggled in through them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api import page_tokens
from api.auth import OperatorDep
from api.deps import SettingsDep, TemporalClientDep
from api.one_hop import OneHopRoute
from api.problems import InvalidInput, NotFound, Unauthorized, Unavailable, problem_responses
from api.teardown_models import StepOut
from clients.teardown import handle_for_id, query_progress
from contracts.teardown import TEARDOWN_STATUS, TEARDOWN_STATUSES
from core.histories import LOCAL_ACTIVITY_MARKER
from core.settings import Settings
from core.temporal import TRANSIENT_STATUSES

router = APIRouter(route_class=OneHopRoute, tags=["ops"], prefix="/ops")

QUERY_TIMEOUT = timedelta(seconds=2)
ERRORS = problem_responses(Unauthorized, NotFound, InvalidInput, Unavailable)
STATUS_NAMES = {"running": "Running", "completed": "Completed", "failed": "Failed",
                "canceled": "Canceled", "terminated": "Terminated",
                "continued_as_new": "ContinuedAsNew", "timed_out": "TimedOut"}
WorkflowId = Annotated[str, Path(min_length=1, max_length=300)]
Token = Annotated[str, Query(max_length=4000, description="from the previous page")]


class WorkflowSummary(BaseModel):
    workflow_id: str
    run_id: str
    type: str
    status: str
    start_time: datetime | None
    close_time: datetime | None
    task_queue: str
    ui_url: str
    teardown_status: str | None = Field(
        None, description="a teardown's own status (grace, cancelled, ...): a cancelled "
                          "teardown ends normally, so its execution status says completed")


class WorkflowPage(BaseModel):
    items: list[WorkflowSummary]
    next_page_token: str | None


class WorkflowProgress(BaseModel):
    status: str
    current_step: str | None
    percent: float
    cancellable: bool
    steps: list[StepOut]


class WorkflowDetail(WorkflowSummary):
    history_length: int
    progress: WorkflowProgress | None = Field(description="teardowns only: the live query")


class EventSummary(BaseModel):
    event_id: int
    type: str
    time: datetime | None
    activity: str | None = None
    attempt: int | None = None
    failure: str | None = None


class HistoryPage(BaseModel):
    workflow_id: str
    ui_url: str
    events: list[EventSummary]
    next_page_token: str | None


def ui_url(settings: Settings, namespace: str, workflow_id: str) -> str:
    return (f"{settings.effective_temporal_ui_url}/namespaces/{quote(namespace)}"
            f"/workflows/{quote(workflow_id, safe='')}")


# Temporal busy or away, whatever the request: anything else in answer to a client-supplied
# page token means the token was forged or mangled (the dev server answers a garbage token
# with an internal error), which is the client's fault, not an outage.
TRANSIENT = TRANSIENT_STATUSES


def _bad_token() -> InvalidInput:
    return InvalidInput("next_page_token is not one this API handed out")


def _summary(execution: WorkflowExecution, settings: Settings, ns: str) -> dict[str, Any]:
    status = execution.status.name.lower() if execution.status else "unknown"
    return dict(workflow_id=execution.id, run_id=execution.run_id,
                type=execution.workflow_type, status=status,
                start_time=execution.start_time, close_time=execution.close_time,
                task_queue=execution.task_queue, ui_url=ui_url(settings, ns, execution.id),
                teardown_status=execution.typed_search_attributes.get(TEARDOWN_STATUS))


def visibility_query(type_: str | None, status: str | None, org_id: str | None,
                     teardown_status: str | None = None) -> str:
    clauses = []
    if type_:
        clauses.append(f"WorkflowType = '{type_}'")
    if status:
        clauses.append(f"ExecutionStatus = '{STATUS_NAMES[status]}'")
    if teardown_status:
        clauses.append(f"{TEARDOWN_STATUS.name} = '{teardown_status}'")
    if org_id:
        clauses.append(f"WorkflowId STARTS_WITH 'org-teardown-{org_id}'")
    return " AND ".join(clauses)


@router.get("/workflows", response_model=WorkflowPage, responses=ERRORS,
            summary="List workflows by type, status and org (Temporal visibility)")
async def list_workflows(
        _op: OperatorDep, client: TemporalClientDep, settings: SettingsDep,
        type: Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")] = None,
        status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUS_NAMES) + ")$")
                          ] = None,
        org_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
        teardown_status: Annotated[str | None, Query(
            pattern="^(" + "|".join(TEARDOWN_STATUSES) + ")$",
            description="teardowns in this state of their own")] = None,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
        next_page_token: Token = "") -> WorkflowPage:
    query = visibility_query(type, status, org_id, teardown_status)
    pages = client.list_workflows(query or None, page_size=page_size,
                                  next_page_token=page_tokens.unseal(settings, next_page_token))
    try:
        await pages.fetch_next_page()
    except RPCError as exc:
        if exc.status is RPCStatusCode.INVALID_ARGUMENT:
            raise InvalidInput(f"Temporal refused the filter: {exc.message}") from None
        if next_page_token and exc.status not in TRANSIENT:
            raise _bad_token() from None
        raise Unavailable(f"Temporal: {exc.message}") from None
    ns = client.namespace
    return WorkflowPage(items=[WorkflowSummary(**_summary(e, settings, ns))
                               for e in pages.current_page or []],
                        next_page_token=page_tokens.seal(settings, pages.next_page_token))


async def _teardown_progress(client: Client, workflow_id: str, run_id: str,
                             completed: bool) -> WorkflowProgress | None:
    """The step table: a completed run's from its result (no worker needed), any other's
    from the `progress` query (a failed run still answers it from its replayed state)."""
    handle = handle_for_id(client, workflow_id, run_id)
    try:
        progress = await (handle.result() if completed
                          else query_progress(handle, QUERY_TIMEOUT))
    except (RPCError, WorkflowQueryFailedError, WorkflowFailureError):
        return None  # no worker polling, or no result to read: describe without it
    return WorkflowProgress(status=progress.status, current_step=progress.current_step,
                            percent=progress.percent, cancellable=progress.cancellable,
                            steps=[StepOut(**vars(s)) for s in progress.steps])


@router.get("/workflows/{workflow_id}", response_model=WorkflowDetail, responses=ERRORS,
            summary="Describe one workflow; a teardown also reports its steps")
async def describe_workflow(workflow_id: WorkflowId, _op: OperatorDep,
                            client: TemporalClientDep, settings: SettingsDep,
                            run_id: Annotated[str | None, Query(max_length=100)] = None
                            ) -> WorkflowDetail:
    try:
        desc = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    except RPCError as exc:
        raise _rpc_problem(exc, workflow_id) from None
    progress = None
    if desc.workflow_type == "OrgTeardownWorkflow" and desc.status in (
            WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED,
            WorkflowExecutionStatus.FAILED):
        progress = await _teardown_progress(
            client, workflow_id, desc.run_id,
            completed=desc.status is WorkflowExecutionStatus.COMPLETED)
    return WorkflowDetail(**_summary(desc, settings, client.namespace),
                          history_length=desc.history_length, progress=progress)


def _rpc_problem(exc: RPCError, workflow_id: str) -> NotFound | InvalidInput | Unavailable:
    if exc.status is RPCStatusCode.NOT_FOUND:
        return NotFound(f"workflow {workflow_id} does not exist", workflow_id=workflow_id)
    if exc.status is RPCStatusCode.INVALID_ARGUMENT:
        return InvalidInput(f"Temporal refused the request: {exc.message}")
    return Unavailable(f"Temporal: {exc.message}")


def summarise(event: HistoryEvent, activity_names: dict[int, str]) -> EventSummary:
    """One line per event: what an operator scans for (which activity, which try, what broke)."""
    kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
    out = EventSummary(event_id=event.event_id, type=kind,
                       time=event.event_time.ToDatetime(tzinfo=UTC) if event.HasField("event_time")
                       else None)
    attr_name = event.WhichOneof("attributes")
    attrs: Any = getattr(event, attr_name) if attr_name else None
    scheduled = getattr(attrs, "scheduled_event_id", 0)
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        out.activity = activity_names[event.event_id] = attrs.activity_type.name
    elif scheduled and kind.startswith("activity_task"):
        out.activity = activity_names.get(scheduled)
    elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
        out.activity, out.attempt = _local_activity(attrs)
    if attrs is not None and hasattr(attrs, "attempt") and attrs.attempt:
        out.attempt = attrs.attempt
    if attrs is not None and hasattr(attrs, "failure") and attrs.HasField("failure"):
        out.failure = attrs.failure.message
    return out


def _local_activity(marker: Any) -> tuple[str | None, int | None]:
    """Name and attempt of a local activity from its result marker (the teardown runs its short
    steps locally: without this an operator would see bare markers where the steps are)."""
    if marker.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in marker.details:
        return None, None
    try:
        data = json.loads(marker.details["data"].payloads[0].data)
    except (IndexError, ValueError):
        return None, None
    return data.get("activity_type"), data.get("attempt")


@router.get("/workflows/{workflow_id}/history", response_model=HistoryPage, responses=ERRORS,
            summary="A workflow's history, summarised and paginated")
async def workflow_history(workflow_id: WorkflowId, _op: OperatorDep,
                           client: TemporalClientDep, settings: SettingsDep,
                           run_id: Annotated[str | None, Query(max_length=100)] = None,
                           page_size: Annotated[int, Query(ge=1, le=500)] = 100,
                           next_page_token: Token = "") -> HistoryPage:
    server_token, offset = _history_token_in(settings, next_page_token)
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    events = handle.fetch_history_events(page_size=page_size, next_page_token=server_token)
    try:
        await events.fetch_next_page()
    except RPCError as exc:
        if server_token and exc.status not in TRANSIENT | {RPCStatusCode.NOT_FOUND}:
            raise _bad_token() from None
        raise _rpc_problem(exc, workflow_id) from None
    page = list(events.current_page or [])
    # A server may send more than asked (the test server ignores the page size): the rest of
    # its page is served next, from the same server token and an offset.
    if offset + page_size < len(page):
        following = _history_token_out(settings, server_token, offset + page_size)
    else:
        following = _history_token_out(settings, events.next_page_token, 0)
    names: dict[int, str] = {}
    summaries = [summarise(e, names) for e in page]
    return HistoryPage(workflow_id=workflow_id,
                       ui_url=ui_url(settings, client.namespace, workflow_id),
                       events=summaries[offset:offset + page_size],
                       next_page_token=following)


def _history_token_in(settings: Settings, token: str) -> tuple[bytes | None, int]:
    raw = page_tokens.unseal(settings, token)
    if raw is None:
        return None, 0
    offset_text, _, server = raw.partition(b":")
    if not offset_text.isdigit():
        raise InvalidInput("next_page_token is not one this API handed out")
    return server or None, int(offset_text)


def _history_token_out(settings: Settings, server: bytes | None, offset: int) -> str | None:
    if server is None and offset == 0:
        return None
    return page_tokens.seal(settings, str(offset).encode() + b":" + (server or b""))
