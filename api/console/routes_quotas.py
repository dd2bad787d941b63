"""Quotas (admin): "Quota Management" per service, each member's limit and use, and the
service permissions ("tenant management permissions") beside them.

A service is picked like the seed's "Project Usage/Quotas" drop-down; a member's row edits
their limit ("Edit Quota") and turns the service on or off for them. Both go through the
same service functions as the API, so the checks, the org lock and the audit are the same.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.console.auth import AdminDep, ConsoleUser, FormDep
from api.console.render import Errors, errors_of, page, see_other, status_of
from api.deps import SessionDep
from api.problems import InvalidInput, Problem
from api.routes.quotas import QuotaSet
from services import quotas as quota_service
from services import service_permissions
from store.models import Service

router = APIRouter()

PAGE_SIZE = 20
NOTICES = {"limit": "The quota was saved.", "on": "The service was turned on.",
           "off": "The service was turned off."}


def _service(value: str) -> Service:
    try:
        return Service(value or Service.CONTAINER_COMPUTE.value)
    except ValueError:
        raise InvalidInput("no such service", field="service") from None


def _quotas_page(request: Request, user: ConsoleUser, session: SessionDep, service: Service,
                 *, status: int = 200, errors: Errors | None = None, member: str = "",
                 typed: str = "") -> HTMLResponse:
    cursor = request.query_params.get("cursor", "")[:64]
    board = quota_service.quota_board(session, user.org_id, service, limit=PAGE_SIZE,
                                      after=cursor)
    notice = NOTICES.get(request.query_params.get("saved", ""), "")
    return page(request, "quotas.html", user, status=status, board=board,
                services=list(Service), first_page=not cursor, errors=errors or {},
                failed_member=member, typed=typed, notice=notice)


@router.get("/quotas", response_class=HTMLResponse)
def quotas_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    service = _service(request.query_params.get("service", "")[:40])
    return _quotas_page(request, user, session, service)


@router.post("/quotas/{member_id}/limit", response_class=HTMLResponse)
def set_limit(request: Request, member_id: str, user: AdminDep, form: FormDep,
              session: SessionDep) -> Response:
    service = _service(str(form.get("service", ""))[:40])
    typed = str(form.get("limit", ""))[:20]
    try:
        body = QuotaSet.model_validate({"limit": typed.strip() or None})
        quota_service.set_quota(session, user.org_id, member_id[:64], service, body.limit,
                                actor=user.principal.actor)
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _quotas_page(request, user, session, service, status=status_of(exc),
                            errors=errors_of(exc, "limit"), member=member_id, typed=typed)
    return see_other(f"/console/quotas?service={service.value}&saved=limit")


@router.post("/quotas/{member_id}/permission", response_class=HTMLResponse)
def set_permission(request: Request, member_id: str, user: AdminDep, form: FormDep,
                   session: SessionDep) -> Response:
    service = _service(str(form.get("service", ""))[:40])
    enabled = str(form.get("enabled", "")) == "on"
    try:
        service_permissions.set_permission(session, user.org_id, member_id[:64], service,
                                           enabled, actor=user.principal.actor)
    except Problem as exc:
        session.rollback()
        return _quotas_page(request, user, session, service, status=status_of(exc),
                            errors=errors_of(exc, "enabled"), member=member_id)
    return see_other(f"/console/quotas?service={service.value}&saved="
                     + ("on" if enabled else "off"))
