"""The Webhooks page (admins only): endpoints, their secret shown once, the test event and the
delivery log.

Every action is the API's own route function run with the member's console principal, so the
console checks, refuses and audits exactly as the API (`api/routes/webhooks.py`). A signing
secret (made by "add" or "rotate") is in the response to that POST only: the page is rendered
from it, never redirected with the secret in a URL, and like every console page it is marked
`no-store`. A test event queued here starts its delivery after the response, as from the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.console.auth import AdminDep, ConsoleUser, FormDep
from api.console.render import Errors, errors_of, page, see_other, status_of
from api.deps import SessionDep, SettingsDep
from api.problems import Problem
from api.routes import webhooks as hook_routes
from api.routes.webhooks import (
    EndpointCreate,
    EndpointUpdate,
    EndpointWithSecretOut,
    RotateSecret,
)
from core import webhook_events as events

router = APIRouter()

LOG_PAGE = 50
NOTICES = {"saved": "The endpoint was saved.", "enabled": "The endpoint was enabled.",
           "disabled": "The endpoint was disabled.", "deleted": "The endpoint was deleted.",
           "tested": "A test event was sent: its delivery shows in the log below."}


def _form_values(form: Any) -> dict[str, Any]:
    return {"url": str(form.get("url", "")).strip(),
            "description": str(form.get("description", "")).strip(),
            "event_types": [str(v) for v in form.getlist("event_types")]}


def _list_page(request: Request, user: ConsoleUser, session: SessionDep, *,
               status: int = 200, errors: Errors | None = None,
               created: EndpointWithSecretOut | None = None,
               form: dict[str, Any] | None = None) -> HTMLResponse:
    listing = hook_routes.list_endpoints(user.org_id, user.principal, session)
    done = request.query_params.get("done", "")
    return page(request, "webhooks.html", user, status=status, endpoints=listing.items,
                created=created, errors=errors or {}, form=form or {"event_types": []},
                event_types=events.EVENT_TYPES, add_open=form is not None,
                notice=NOTICES.get(done, ""))


def _endpoint_page(request: Request, user: ConsoleUser, session: SessionDep, endpoint_id: str,
                   *, status: int = 200, errors: Errors | None = None,
                   rotated: EndpointWithSecretOut | None = None,
                   form: dict[str, Any] | None = None) -> HTMLResponse:
    endpoint = hook_routes.get_endpoint(user.org_id, endpoint_id, user.principal, session)
    cursor = request.query_params.get("cursor", "")[:20]
    log = hook_routes.deliveries(user.org_id, endpoint_id, user.principal, session,
                                 limit=LOG_PAGE, cursor=cursor if cursor.isdigit() else "")
    done = request.query_params.get("done", "")
    return page(request, "webhook.html", user, status=status, endpoint=endpoint,
                attempts=log.items, next_cursor=log.next_cursor, first_page=not cursor,
                rotated=rotated, errors=errors or {},
                form=form or {"url": endpoint.url, "description": endpoint.description,
                              "event_types": endpoint.event_types},
                event_types=events.EVENT_TYPES, notice=NOTICES.get(done, ""))


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    return _list_page(request, user, session)


@router.post("/webhooks", response_class=HTMLResponse)
def add_endpoint(request: Request, user: AdminDep, form: FormDep, session: SessionDep,
                 settings: SettingsDep) -> Response:
    values = _form_values(form)
    try:
        body = EndpointCreate.model_validate(values)
        created = hook_routes.create_endpoint(user.org_id, body, user.principal, session,
                                              settings, Response())
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _list_page(request, user, session, status=status_of(exc),
                          errors=errors_of(exc, "url"), form=values)
    return _list_page(request, user, session, status=201, created=created)


@router.get("/webhooks/{endpoint_id}", response_class=HTMLResponse)
def endpoint_page(request: Request, endpoint_id: str, user: AdminDep,
                  session: SessionDep) -> Response:
    return _endpoint_page(request, user, session, endpoint_id[:64])


@router.post("/webhooks/{endpoint_id}", response_class=HTMLResponse)
def update_endpoint(request: Request, endpoint_id: str, user: AdminDep, form: FormDep,
                    session: SessionDep, settings: SettingsDep) -> Response:
    endpoint_id = endpoint_id[:64]
    values = _form_values(form)
    try:
        body = EndpointUpdate.model_validate(values)
        hook_routes.update_endpoint(user.org_id, endpoint_id, body, user.principal, session,
                                    settings)
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _endpoint_page(request, user, session, endpoint_id, status=status_of(exc),
                              errors=errors_of(exc, "url"), form=values)
    return see_other(f"/console/webhooks/{endpoint_id}?done=saved")


@router.post("/webhooks/{endpoint_id}/enabled", response_class=HTMLResponse)
def set_enabled(request: Request, endpoint_id: str, user: AdminDep, form: FormDep,
                session: SessionDep, settings: SettingsDep) -> Response:
    endpoint_id = endpoint_id[:64]
    enabled = str(form.get("enabled", "")) == "true"
    try:
        hook_routes.update_endpoint(user.org_id, endpoint_id, EndpointUpdate(enabled=enabled),
                                    user.principal, session, settings)
    except Problem as exc:
        session.rollback()
        return _endpoint_page(request, user, session, endpoint_id, status=exc.status,
                              errors=errors_of(exc, "enabled"))
    done = "enabled" if enabled else "disabled"
    return see_other(f"/console/webhooks/{endpoint_id}?done={done}")


@router.post("/webhooks/{endpoint_id}/rotate", response_class=HTMLResponse)
def rotate_secret(request: Request, endpoint_id: str, user: AdminDep, form: FormDep,
                  session: SessionDep, settings: SettingsDep) -> Response:
    endpoint_id = endpoint_id[:64]
    hours = str(form.get("overlap_hours", "")).strip() or "24"
    try:
        body = RotateSecret.model_validate({"overlap_hours": hours})
        rotated = hook_routes.rotate_secret(user.org_id, endpoint_id, body, user.principal,
                                            session, settings, Response())
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _endpoint_page(request, user, session, endpoint_id, status=status_of(exc),
                              errors=errors_of(exc, "overlap_hours"))
    return _endpoint_page(request, user, session, endpoint_id, rotated=rotated)


@router.post("/webhooks/{endpoint_id}/test", response_class=HTMLResponse)
def send_test(request: Request, endpoint_id: str, user: AdminDep, form: FormDep,
              session: SessionDep) -> Response:
    endpoint_id = endpoint_id[:64]
    try:
        hook_routes.send_test(user.org_id, endpoint_id, user.principal, session)
    except Problem as exc:
        session.rollback()
        return _endpoint_page(request, user, session, endpoint_id, status=exc.status,
                              errors=errors_of(exc, "test"))
    return see_other(f"/console/webhooks/{endpoint_id}?done=tested")


@router.post("/webhooks/{endpoint_id}/delete", response_class=HTMLResponse)
def delete_endpoint(request: Request, endpoint_id: str, user: AdminDep, form: FormDep,
                    session: SessionDep) -> Response:
    endpoint_id = endpoint_id[:64]
    try:
        hook_routes.delete_endpoint(user.org_id, endpoint_id, user.principal, session)
    except Problem as exc:
        session.rollback()
        return _endpoint_page(request, user, session, endpoint_id, status=exc.status,
                              errors=errors_of(exc, "delete"))
    return see_other("/console/webhooks?done=deleted")
