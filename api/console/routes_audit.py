"""Audit log (admin): the org's events newest first, filtered by actor, action and dates,
a page at a time, and exported as NDJSON with the same filters.

Dates are days in UTC: "from" includes its whole day, "to" too (the filter runs until the
start of the next day), which is what a person picking two dates means.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from api.console.auth import AdminDep
from api.console.render import errors_of, page, status_of
from api.deps import SessionDep
from api.problems import InvalidInput, Problem
from api.routes.audit import NDJSON
from services import audit as audit_service
from store.audit import AuditFilter

router = APIRouter()

PAGE_SIZE = 25
FIELDS = ("actor", "action", "from", "to")


def _day(value: str, field: str, *, next_day: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("pick a date (YYYY-MM-DD)", field=field) from None
    return datetime.combine(day + timedelta(days=1 if next_day else 0), time(), tzinfo=UTC)


def _filter(request: Request) -> tuple[dict[str, str], AuditFilter]:
    typed = {f: request.query_params.get(f, "").strip()[:100] for f in FIELDS}
    where = AuditFilter(actor=typed["actor"] or None, action=typed["action"] or None,
                        since=_day(typed["from"], "from"),
                        until=_day(typed["to"], "to", next_day=True))
    if where.since and where.until and where.until <= where.since:
        raise InvalidInput("the end date is before the start date", field="to")
    return typed, where


def _query(typed: dict[str, str]) -> str:
    return urlencode({k: v for k, v in typed.items() if v})


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    cursor = request.query_params.get("cursor", "")[:18]
    typed = {f: request.query_params.get(f, "").strip()[:100] for f in FIELDS}
    try:
        typed, where = _filter(request)
    except Problem as exc:
        return page(request, "audit.html", user, status=status_of(exc), events=[],
                    typed=typed, errors=errors_of(exc, "from"), next_cursor=None,
                    first_page=True, query=_query(typed))
    rows, next_cursor = audit_service.events_page(
        session, user.org_id, where, limit=PAGE_SIZE,
        before=int(cursor) if cursor.isdigit() else 0)
    return page(request, "audit.html", user, events=[audit_service.event_dict(r) for r in rows],
                typed=typed, next_cursor=next_cursor, first_page=not cursor,
                query=_query(typed))


@router.get("/audit/export")
def audit_export(request: Request, user: AdminDep, session: SessionDep) -> Response:
    _, where = _filter(request)
    upto = audit_service.newest_id(session, user.org_id)
    return StreamingResponse(
        audit_service.export_lines(request.app.state.session_factory, user.org_id, where,
                                   upto=upto),
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="audit-{user.org_id}.ndjson"'})
