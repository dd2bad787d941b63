"""Webhook endpoints of an org, on the Standard Webhooks specification (v1).

Admin only, like key management. The signing secret (`whsec_...`) is in the response that
makes it (create, rotate) and nowhere else. Events queued by a route (the test event) start
their delivery after the response (`api.deliveries`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyDep
from api.deps import SessionDep, SettingsDep
from api.guards import org_or_404
from api.one_hop import OneHopRoute
from api.params import NumericCursor, OrgId, PageLimit, numeric
from api.problems import (
    InvalidInput,
    NotFound,
    NotPermitted,
    OrgFrozen,
    Unauthorized,
    problem_responses,
)
from core import webhook_events as events
from core.text import OneLine
from services import webhooks as service
from store import webhooks
from store.webhook_models import WebhookAttempt, WebhookEndpoint

router = APIRouter(route_class=OneHopRoute, tags=["webhooks"])
log = logging.getLogger("lifecycle.api")

EndpointId = Annotated[str, Path(min_length=1, max_length=64, description="endpoint id")]
READ_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound)
WRITE_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, OrgFrozen, InvalidInput)
EventType = Annotated[OneLine, Field(max_length=64, description="one of the event types")]
URL_EXAMPLE = "https://hooks.example.com/lifecycle"


class EndpointOut(BaseModel):
    """An endpoint as lists show it: never its secret."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "3f9c...", "url": URL_EXAMPLE, "description": "alerts", "event_types": [],
        "status": "enabled", "disabled_reason": None, "consecutive_failures": 0,
        "rotation_ends_at": None, "created_at": "2026-01-01T00:00:00Z"}]})

    id: str
    url: str
    description: str
    event_types: list[str] = Field(description="empty: every event type")
    status: str = Field(description="enabled | disabled")
    disabled_reason: str | None
    consecutive_failures: int
    rotation_ends_at: datetime | None = Field(
        description="while set, deliveries carry a signature under the previous secret too")
    created_at: datetime


class EndpointPage(BaseModel):
    items: list[EndpointOut]


class EndpointWithSecretOut(BaseModel):
    endpoint: EndpointOut
    secret: str = Field(description="the signing secret, shown in this response only")


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "url": URL_EXAMPLE, "event_types": ["api_key.expiring", "api_key.revoked"]}]})

    url: OneLine = Field(min_length=1, max_length=1000, description="https://, public address")
    description: OneLine = Field("", max_length=200)
    event_types: list[EventType] = Field(default_factory=list, max_length=50,
                                         description="empty: every event type")


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"enabled": True}, {"event_types": ["api_key.expiring"]}]})

    url: OneLine | None = Field(None, min_length=1, max_length=1000)
    description: OneLine | None = Field(None, max_length=200)
    event_types: list[EventType] | None = Field(None, max_length=50)
    enabled: bool | None = Field(None, description="false disables; true enables and resets "
                                 "the failure count")


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"overlap_hours": 24}]})

    overlap_hours: int = Field(24, ge=0, le=service.MAX_OVERLAP_HOURS,
                               description="how long the old secret keeps signing too")


class TestEventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"event_id": "evt_1a2b..."}]})

    event_id: str


class AttemptOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    attempt: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    next_retry_at: datetime | None
    at: datetime


class AttemptPage(BaseModel):
    items: list[AttemptOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class EventTypesOut(BaseModel):
    items: list[str]


def _out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(id=endpoint.id, url=endpoint.url, description=endpoint.description,
                       event_types=list(endpoint.event_types), status=endpoint.status,
                       disabled_reason=endpoint.disabled_reason,
                       consecutive_failures=endpoint.consecutive_failures,
                       rotation_ends_at=endpoint.previous_until
                       if endpoint.previous_secret_sealed else None,
                       created_at=endpoint.created_at)


def _attempt(row: WebhookAttempt) -> AttemptOut:
    return AttemptOut(id=row.id, event_id=row.event_id, event_type=row.event_type,
                      attempt=row.attempt, status_code=row.status_code,
                      latency_ms=row.latency_ms, error=row.error,
                      next_retry_at=row.next_retry_at, at=row.created_at)


@router.get("/webhook-event-types", response_model=EventTypesOut,
            summary="The event types an endpoint can ask for")
def event_types() -> EventTypesOut:
    return EventTypesOut(items=list(events.EVENT_TYPES))


@router.post("/orgs/{org_id}/webhooks", status_code=201, response_model=EndpointWithSecretOut,
             responses=WRITE_ERRORS,
             summary="Add a webhook endpoint (its signing secret is in this response only)")
def create_endpoint(org_id: OrgId, body: EndpointCreate, principal: KeyDep,
                    session: SessionDep, settings: SettingsDep,
                    response: Response) -> EndpointWithSecretOut:
    principal.require_admin(org_id)
    made = service.add_endpoint(session, settings, org_id, url=body.url,
                                description=body.description, event_types=body.event_types,
                                actor=principal.actor)
    response.headers["Cache-Control"] = "no-store"
    return EndpointWithSecretOut(endpoint=_out(made.endpoint), secret=made.secret)


@router.get("/orgs/{org_id}/webhooks", response_model=EndpointPage, responses=READ_ERRORS,
            summary="List the org's webhook endpoints")
def list_endpoints(org_id: OrgId, principal: KeyDep, session: SessionDep) -> EndpointPage:
    principal.require_admin(org_id)
    org_or_404(session, org_id)
    return EndpointPage(items=[_out(e) for e in webhooks.endpoints_of(session, org_id)])


@router.get("/orgs/{org_id}/webhooks/{endpoint_id}", response_model=EndpointOut,
            responses=READ_ERRORS, summary="One webhook endpoint")
def get_endpoint(org_id: OrgId, endpoint_id: EndpointId, principal: KeyDep,
                 session: SessionDep) -> EndpointOut:
    principal.require_admin(org_id)
    return _out(service.endpoint_or_404(session, org_id, endpoint_id))


@router.patch("/orgs/{org_id}/webhooks/{endpoint_id}", response_model=EndpointOut,
              responses=WRITE_ERRORS,
              summary="Change an endpoint's URL, description or event types; enable or disable")
def update_endpoint(org_id: OrgId, endpoint_id: EndpointId, body: EndpointUpdate,
                    principal: KeyDep, session: SessionDep,
                    settings: SettingsDep) -> EndpointOut:
    principal.require_admin(org_id)
    endpoint = service.update_endpoint(session, settings, org_id, endpoint_id,
                                       actor=principal.actor, url=body.url,
                                       description=body.description,
                                       event_types=body.event_types, enabled=body.enabled)
    return _out(endpoint)


@router.delete("/orgs/{org_id}/webhooks/{endpoint_id}", status_code=204,
               responses=WRITE_ERRORS, summary="Delete an endpoint and its delivery log")
def delete_endpoint(org_id: OrgId, endpoint_id: EndpointId, principal: KeyDep,
                    session: SessionDep) -> Response:
    principal.require_admin(org_id)
    service.delete_endpoint(session, org_id, endpoint_id, actor=principal.actor)
    return Response(status_code=204)


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/rotate-secret",
             response_model=EndpointWithSecretOut, responses=WRITE_ERRORS,
             summary="Rotate the signing secret; the old one signs too during the overlap")
def rotate_secret(org_id: OrgId, endpoint_id: EndpointId, body: RotateSecret,
                  principal: KeyDep, session: SessionDep, settings: SettingsDep,
                  response: Response) -> EndpointWithSecretOut:
    principal.require_admin(org_id)
    made = service.rotate_secret(session, settings, org_id, endpoint_id,
                                 overlap_hours=body.overlap_hours, actor=principal.actor)
    response.headers["Cache-Control"] = "no-store"
    return EndpointWithSecretOut(endpoint=_out(made.endpoint), secret=made.secret)


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/test", status_code=202,
             response_model=TestEventOut, responses=WRITE_ERRORS,
             summary="Send a `webhook.test` event to this endpoint now")
def send_test(org_id: OrgId, endpoint_id: EndpointId, principal: KeyDep,
              session: SessionDep) -> TestEventOut:
    principal.require_admin(org_id)
    emitted = service.send_test_event(session, org_id, endpoint_id, actor=principal.actor)
    return TestEventOut(event_id=emitted.event_id)


@router.get("/orgs/{org_id}/webhooks/{endpoint_id}/deliveries", response_model=AttemptPage,
            responses=READ_ERRORS,
            summary="The endpoint's delivery log: every attempt, oldest first, a page at a time")
def deliveries(org_id: OrgId, endpoint_id: EndpointId, principal: KeyDep, session: SessionDep,
               limit: PageLimit = 50, cursor: NumericCursor = "") -> AttemptPage:
    principal.require_admin(org_id)
    service.endpoint_or_404(session, org_id, endpoint_id)
    rows, next_cursor = webhooks.attempts_page(session, endpoint_id, limit=limit,
                                               after=numeric(cursor))
    return AttemptPage(items=[_attempt(r) for r in rows], next_cursor=next_cursor)
