"""The Settings tab: basic information, the admin account, the key policy, payment settings,
danger zone.

Each write is the API's own operation (`patch_org`, `put_key_policy`, `put_payment_method`)
run with the
member's console principal, so the console checks, refuses and audits exactly as the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.console.auth import (
    AdminDep,
    ConsoleUser,
    CsrfFormDep,
    FormDep,
    UserDep,
    refuse_card_numbers,
)
from api.console.render import Errors, errors_of, page, see_other, status_of
from api.deps import SessionDep
from api.problems import NotFound, Problem
from api.routes import orgs as org_routes
from api.routes.orgs import KeyPolicyIn, OrgPatch, PaymentIn

router = APIRouter()

BASIC_FIELDS = ("name", "description", "contact_email", "website", "timezone")
CARD_FIELDS = ("token", "brand", "last4", "exp_month", "exp_year")
POLICY_FIELDS = ("max_key_lifetime_days", "revoke_unused_keys_after_days")
NOTICES = {"basic": "Basic information saved.", "card": "The credit card was changed.",
           "policy": "Key policy saved."}


def _settings_page(request: Request, user: ConsoleUser, session: SessionDep, *,
                   status: int = 200, errors: Errors | None = None,
                   basic: dict[str, Any] | None = None, card_form: dict[str, Any] | None = None,
                   policy: dict[str, Any] | None = None) -> HTMLResponse:
    org = org_routes.get_org(user.org_id, user.principal, session)
    card = None
    if user.is_admin:
        try:
            card = org_routes.get_payment_method(user.org_id, user.principal, session)
        except NotFound:
            card = None
    return page(request, "settings.html", user, status=status, org=org, card=card,
                basic=basic or org.model_dump(), card_form=card_form or {},
                policy=policy or {f: getattr(org, f) for f in POLICY_FIELDS},
                card_dialog_open=card_form is not None, errors=errors or {},
                notice=NOTICES.get(request.query_params.get("saved", ""), ""))


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: UserDep, session: SessionDep) -> Response:
    return _settings_page(request, user, session)


@router.post("/settings/basic", response_class=HTMLResponse)
def save_basic(request: Request, user: AdminDep, form: FormDep,
               session: SessionDep) -> Response:
    values = {f: str(form.get(f, "")) for f in BASIC_FIELDS}
    try:
        body = OrgPatch(**values)
        org_routes.patch_org(user.org_id, body, user.principal, session)
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _settings_page(request, user, session, status=status_of(exc), basic=values,
                              errors=errors_of(exc, "name"))
    return see_other("/console/settings?saved=basic")


@router.post("/settings/key-policy", response_class=HTMLResponse)
def save_key_policy(request: Request, user: AdminDep, form: FormDep,
                    session: SessionDep) -> Response:
    """An empty "revoke unused keys after" field turns that revocation off."""
    values = {f: str(form.get(f, "")).strip() for f in POLICY_FIELDS}
    try:
        body = KeyPolicyIn.model_validate(
            {f: (v or None) for f, v in values.items()})
        org_routes.put_key_policy(user.org_id, body, user.principal, session)
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _settings_page(request, user, session, status=status_of(exc), policy=values,
                              errors=errors_of(exc, "revoke_unused_keys_after_days"))
    return see_other("/console/settings?saved=policy#key-policy")


@router.post("/settings/card", response_class=HTMLResponse)
def change_card(request: Request, user: AdminDep, form: CsrfFormDep,
                session: SessionDep) -> Response:
    values = {f: str(form.get(f, "")) for f in CARD_FIELDS}
    try:
        refuse_card_numbers(form)
        body = PaymentIn.model_validate(values)
        org_routes.put_payment_method(user.org_id, body, user.principal, session)
    except (Problem, ValidationError) as exc:
        session.rollback()
        # a refused card number is never echoed back into the form
        shown = {k: ("" if k in errors_of(exc) and isinstance(exc, Problem) else v)
                 for k, v in values.items()}
        return _settings_page(request, user, session, status=status_of(exc), card_form=shown,
                              errors=errors_of(exc, "token"))
    return see_other("/console/settings?saved=card")
