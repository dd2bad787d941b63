"""The audit log (admin): who did what in the org, newest first, and its NDJSON export.

Events hold ids and actors only (`key:<prefix>`, `member:<id>`, `workflow:<id>`), never names,
emails, secrets or card data, so the log can be read and exported as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyDep
from api.deps import SessionDep, SessionFactoryDep
from api.one_hop import OneHopRoute
from api.params import NumericCursor, OrgId, PageLimit, numeric
from api.problems import InvalidInput, NotFound, NotPermitted, Unauthorized, problem_responses
from services import audit as service
from store.audit import AuditFilter

router = APIRouter(route_class=OneHopRoute, tags=["audit"])

ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput)
NDJSON = "application/x-ndjson"

Actor = Annotated[str | None, Query(min_length=1, max_length=100,
                                    description="only events by this actor, e.g. key:olt_ab12cd34")]
Action = Annotated[str | None, Query(min_length=1, max_length=100,
                                     description="only events of this action, e.g. quota.set")]
Since = Annotated[str | None, Query(max_length=40, description="from this time on "
                                    "(ISO 8601 with offset, inclusive)")]
Until = Annotated[str | None, Query(max_length=40, description="before this time "
                                    "(ISO 8601 with offset, exclusive)")]

EXAMPLE: dict[str, Any] = {"id": 812, "actor": "key:olt_ab12cd34", "action": "quota.set",
           "target": "member:9b2d...", "detail": {"service": "virtual_compute",
                                                 "old_limit": 10, "new_limit": 50},
           "created_at": "2026-11-03T10:00:00Z"}


class AuditEventOut(BaseModel):
    id: int
    actor: str = Field(description="who: key:<prefix>, member:<id>, workflow:<id>, operator")
    action: str
    target: str = Field(description="what it acted on, by id: org:, member:, key:, project:")
    detail: dict[str, Any] = Field(description="ids, counts and settings; never secrets")
    created_at: str


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [EXAMPLE], "next_cursor": "811"}]})

    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


def audit_filter(actor: str | None, action: str | None, since: str | None,
                 until: str | None) -> AuditFilter:
    return service.check_filter(AuditFilter(
        actor=actor, action=action,
        since=service.parse_time(since, "since") if since else None,
        until=service.parse_time(until, "until") if until else None))


@router.get("/orgs/{org_id}/audit", response_model=AuditPage, responses=ERRORS,
            summary="The audit log, newest first, by actor, action and time (admin)")
def list_audit(org_id: OrgId, principal: KeyDep, session: SessionDep, actor: Actor = None,
               action: Action = None, since: Since = None, until: Until = None,
               limit: PageLimit = 50, cursor: NumericCursor = "") -> AuditPage:
    principal.require_admin(org_id)
    where = audit_filter(actor, action, since, until)
    rows, next_cursor = service.events_page(session, org_id, where, limit=limit,
                                            before=numeric(cursor))
    return AuditPage(items=[AuditEventOut(**service.event_dict(r)) for r in rows],
                     next_cursor=next_cursor)


@router.get("/orgs/{org_id}/audit/export", response_class=StreamingResponse,
            responses={200: {"content": {NDJSON: {"example": EXAMPLE}},
                             "description": "one event per line, newest first"}, **ERRORS},
            summary="Export the audit log as NDJSON, streamed (admin)")
def export_audit(org_id: OrgId, principal: KeyDep, session: SessionDep,
                 factory: SessionFactoryDep, actor: Actor = None, action: Action = None,
                 since: Since = None, until: Until = None) -> StreamingResponse:
    principal.require_admin(org_id)
    where = audit_filter(actor, action, since, until)
    upto = service.newest_id(session, org_id)  # events written while it streams are left out
    return StreamingResponse(service.export_lines(factory, org_id, where, upto=upto),
                             media_type=NDJSON, headers={
                                 "Content-Disposition":
                                     f'attachment; filename="audit-{org_id}.ndjson"'})
