"""The danger zone: Delete organization, from the plan to the deletion certificate.

The plan shows what would be deleted and every blocker; the admin types the org's name; the
teardown then runs as the API's own `start`, and progress is shown live. The teardown removes
the members, and with them the admin's session, before it finishes, so progress and the
certificate live at a watch link that needs no session: it carries the certificate receipt
the API's start answers with (stateless, for this org's certificate only, valid for 30 days
after the grace window; the progress and the certificate hold no personal data). Cancel and
Delete now stay with the admin's session.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from api.auth import Operator
from api.console.auth import DangerDep, FormDep, MaybeUserDep
from api.console.render import Errors, errors_of, page, see_other, status_of
from api.deps import SessionDep, SettingsDep, get_temporal_client
from api.problems import NotFound, Problem
from api.routes import teardown as teardown_routes
from api.teardown_models import TeardownStart, TeardownStatus
from core.receipts import make_receipt, receipt_org
from core.settings import Settings
from store.models import OrgStatus
from store.plan import compute_plan

router = APIRouter()

TABLE_LABELS = {
    "organizations": "organization", "members": "members", "projects": "projects",
    "datasets": "datasets", "dataset_records": "dataset records", "api_keys": "API keys",
    "key_tombstones": "deleted-key records", "reminders": "expiry reminders",
    "quotas": "quotas", "subscriptions": "subscriptions", "payment_methods": "credit card",
    "usage_records": "usage records", "invoices": "invoices",
    "console_sessions": "console sessions", "console_sign_in_links": "sign-in links",
    "member_invitations": "invitations", "org_contacts": "essential contacts",
}


def watch_url(receipt: str) -> str:
    return f"/console/teardown/{receipt}"


def fresh_receipt(settings: Settings, org_id: str) -> str:
    """A receipt like the start's, for an admin who comes back while the teardown runs."""
    valid_until = (int(time.time()) + settings.teardown_grace_seconds
                   + teardown_routes.RECEIPT_VALID_AFTER_GRACE_S)
    return make_receipt(org_id, valid_until, settings.pepper_bytes)


def _receipt_org(settings: Settings, receipt: str) -> str:
    org_id = receipt_org(receipt[:200], settings.pepper_bytes, int(time.time()))
    if org_id is None:
        raise NotFound("this deletion link is not valid or has expired")
    return org_id


def _plan_page(request: Request, user: Any, session: SessionDep, *, status: int = 200,
               errors: Errors | None = None, typed: str = "") -> HTMLResponse:
    plan = compute_plan(session, user.org_id)
    if plan is None:
        raise NotFound("the organization does not exist")
    counts = sorted((TABLE_LABELS.get(t, t), n) for t, n in plan.counts.items() if n)
    window = teardown_routes.teardown_window(request.app.state.settings)
    return page(request, "danger.html", user, status=status, plan=plan, counts=counts,
                errors=errors or {}, typed=typed, window=window)


@router.get("/danger", response_class=HTMLResponse)
def danger_page(request: Request, user: DangerDep, session: SessionDep,
                settings: SettingsDep) -> Response:
    if user.org_status is not OrgStatus.ACTIVE:
        return see_other(watch_url(fresh_receipt(settings, user.org_id)))
    return _plan_page(request, user, session)


@router.post("/danger", response_class=HTMLResponse)
async def start_deletion(request: Request, user: DangerDep, form: FormDep,
                         session: SessionDep, settings: SettingsDep) -> Response:
    typed = str(form.get("confirm_name", ""))
    try:
        body = TeardownStart(confirm_name=typed)
        client = await get_temporal_client(request)
        started = await teardown_routes.start(user.org_id, body, user.principal, session,
                                              settings, client)
    except (Problem, ValidationError) as exc:
        await run_in_threadpool(session.rollback)
        errors = errors_of(exc, "confirm_name")
        code = status_of(exc)
        return await run_in_threadpool(
            lambda: _plan_page(request, user, session, status=code, errors=errors, typed=typed))
    return see_other(watch_url(started.certificate_receipt))


@router.post("/danger/cancel")
async def cancel_deletion(request: Request, user: DangerDep, form: FormDep,
                          session: SessionDep, settings: SettingsDep) -> Response:
    client = await get_temporal_client(request)
    await teardown_routes.cancel(user.org_id, user.principal, session, client)
    return see_other(watch_url(fresh_receipt(settings, user.org_id)) + "?decided=cancelled")


@router.post("/danger/expedite")
async def expedite_deletion(request: Request, user: DangerDep, form: FormDep,
                            session: SessionDep, settings: SettingsDep) -> Response:
    client = await get_temporal_client(request)
    await teardown_routes.expedite(user.org_id, user.principal, session, client)
    return see_other(watch_url(fresh_receipt(settings, user.org_id)) + "?decided=expedited")


async def _status(request: Request, session: SessionDep, org_id: str) -> TeardownStatus:
    client = await get_temporal_client(request)
    return await teardown_routes.status(org_id, Operator(), session, client)


@router.get("/teardown/{receipt}", response_class=HTMLResponse)
async def watch_page(request: Request, receipt: str, user: MaybeUserDep, session: SessionDep,
                     settings: SettingsDep) -> Response:
    org_id = _receipt_org(settings, receipt)
    status = await _status(request, session, org_id)
    admin = user if user is not None and user.is_admin and user.org_id == org_id else None
    certificate = (json.dumps(status.certificate.model_dump(mode="json"), indent=2)
                   if status.certificate else "")
    notice = {"cancelled": "The deletion was cancelled: the organization is active again.",
              "expedited": "The grace window was ended: the deletion goes ahead now."
              }.get(request.query_params.get("decided", ""), "")
    return page(request, "teardown.html", admin, status_view=status, certificate=certificate,
                notice=notice, watch=watch_url(receipt),
                absolute_watch=settings.effective_console_url + watch_url(receipt))


@router.get("/teardown/{receipt}/status.json")
async def watch_status(request: Request, receipt: str, session: SessionDep,
                       settings: SettingsDep) -> JSONResponse:
    status = await _status(request, session, _receipt_org(settings, receipt))
    return JSONResponse(status.model_dump(mode="json", exclude={"certificate"}))


@router.get("/teardown/{receipt}/certificate.json")
async def certificate_json(request: Request, receipt: str, session: SessionDep,
                           settings: SettingsDep) -> Response:
    org_id = _receipt_org(settings, receipt)
    status = await _status(request, session, org_id)
    if status.certificate is None:
        raise NotFound("the deletion has not finished: there is no certificate yet")
    # The signed document, byte for byte, is what `lifecycle certificate verify` checks; an
    # unsigned certificate (no signing key configured) is downloaded as the plain record.
    body = status.certificate.signed or json.dumps(
        status.certificate.model_dump(mode="json"), indent=2)
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="deletion-certificate-{org_id}.json"'})
