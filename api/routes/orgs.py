"""Org settings and the payment method: the console's Settings tab.

The admin account is shown but can never be changed (the model's update guard is the last line;
the route refuses first with a clear problem). The card on file is a provider token plus display
facts; a request carrying anything that looks like a full card number is refused before parsing
(secrets never at rest), so no field, log line or error body ever holds one.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import KeyDep
from api.deps import SessionDep
from api.guards import org_or_404, writable_org
from api.one_hop import OneHopRoute
from api.params import OrgId
from api.problems import (
    InvalidInput,
    NotFound,
    NotPermitted,
    Unauthorized,
    problem_responses,
)
from core import key_policy
from core.problems import AdminImmutable
from core.text import FreeText, OneLine
from services import orgs as org_service
from store import orgs
from store.audit import audit
from store.base import utcnow
from store.models import AdminImmutableError, Organization, PaymentMethod

router = APIRouter(route_class=OneHopRoute, tags=["orgs"])

PAYMENT_MESSAGE = "Check your payment settings"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
URL_PATTERN = r"^(https?://\S+)?$"


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class AdminOut(BaseModel):
    member_id: str
    email: str
    name: str


class OrgOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "3f1c0e4b9a7d4c55b2e8a1f0c9d8e7b6", "name": "Acme Research",
        "description": "GPU jobs", "contact_email": "billing@acme.example",
        "website": "https://acme.example", "timezone": "Europe/Berlin", "status": "active",
        "admin": {"member_id": "9b2d...", "email": "admin@acme.example", "name": "Ada"},
        "max_key_lifetime_days": 365, "revoke_unused_keys_after_days": 365,
        "created_at": "2026-01-01T00:00:00Z",
        "payment_attention": True, "payment_message": PAYMENT_MESSAGE}]})

    id: str
    name: str
    description: str
    contact_email: str
    website: str
    timezone: str
    status: str
    admin: AdminOut | None = Field(description="the admin account: visible, never changeable")
    max_key_lifetime_days: int
    revoke_unused_keys_after_days: int | None = Field(
        description="keys unused this many days are revoked, with a notice a week before; "
                    "null: never")
    created_at: datetime
    payment_attention: bool = Field(description="the card on file is missing or unavailable")
    payment_message: str | None


class OrgPatch(BaseModel):
    """Basic information; fields left out (or null) stay as they are."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"description": "Our research org", "timezone": "Asia/Taipei"}]})

    name: OneLine | None = Field(None, min_length=1, max_length=200, pattern=r"\S")
    description: FreeText | None = Field(None, max_length=2000)
    contact_email: OneLine | None = Field(None, max_length=320, pattern=EMAIL_PATTERN)
    website: OneLine | None = Field(None, max_length=500, pattern=URL_PATTERN)
    timezone: OneLine | None = Field(None, max_length=64)
    admin_member_id: OneLine | None = Field(None, description="always refused (409)")
    admin: Any = Field(None, description="always refused (409)")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in _timezones():
            raise ValueError("unknown IANA time zone")
        return value


class KeyPolicyIn(BaseModel):
    """The whole key policy: both fields are set (null turns the unused-key revocation off)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"max_key_lifetime_days": 365, "revoke_unused_keys_after_days": 365}]})

    max_key_lifetime_days: int = Field(ge=1, le=org_service.MAX_KEY_LIFETIME_DAYS,
                                       description="the longest a new or extended key lives")
    revoke_unused_keys_after_days: int | None = Field(
        None, ge=key_policy.MIN_DAYS, le=key_policy.MAX_DAYS,
        description="revoke keys unused (since their last use, or creation) this many days; "
                    "their creator and the admins are told a week before; null: never")


class KeyPolicyOut(BaseModel):
    max_key_lifetime_days: int
    revoke_unused_keys_after_days: int | None


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"token": "tok_1N3x9Q", "brand": "visa", "last4": "4242", "exp_month": 12,
         "exp_year": 2030}]})

    token: OneLine = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$",
                       description="the payment provider's card token, never the number")
    brand: OneLine = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z ]*$")
    last4: OneLine = Field(pattern=r"^[0-9]{4}$")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)


class PaymentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"brand": "visa", "masked": "**** 4242", "last4": "4242", "exp_month": 12,
         "exp_year": 2030, "status": "valid", "updated_at": "2026-01-01T00:00:00Z"}]})

    brand: str
    masked: str
    last4: str
    exp_month: int
    exp_year: int
    status: str
    updated_at: datetime


def _org_out(session: SessionDep, org: Organization) -> OrgOut:
    view = orgs.org_view(session, org.id)
    assert view is not None  # the caller holds the org's row
    return _view_out(view)


def _view_out(view: orgs.OrgView) -> OrgOut:
    attention = view.payment_attention(utcnow())
    admin = (AdminOut(member_id=view.admin_id, email=view.admin_email or "",
                      name=view.admin_name or "") if view.admin_id is not None else None)
    return OrgOut(
        id=view.id, name=view.name, description=view.description,
        contact_email=view.contact_email, website=view.website, timezone=view.timezone,
        status=view.status.value, admin=admin,
        max_key_lifetime_days=view.max_key_lifetime_days,
        revoke_unused_keys_after_days=view.revoke_unused_keys_after_days,
        created_at=view.created_at,
        payment_attention=attention, payment_message=PAYMENT_MESSAGE if attention else None)


def _payment_out(card: PaymentMethod) -> PaymentOut:
    return PaymentOut(brand=card.brand, masked=f"**** {card.last4}", last4=card.last4,
                      exp_month=card.exp_month, exp_year=card.exp_year,
                      status=card.status.value, updated_at=card.updated_at)


READ_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound)


@router.get("/orgs/{org_id}", summary="Basic information, admin account and payment health",
            response_model=OrgOut, responses=READ_ERRORS)
def get_org(org_id: OrgId, principal: KeyDep, session: SessionDep) -> OrgOut:
    principal.require_team(org_id)
    view = orgs.org_view(session, org_id)
    if view is None:
        raise NotFound(f"organization {org_id} does not exist")
    return _view_out(view)


@router.patch("/orgs/{org_id}", summary="Change basic information (never the admin)",
              response_model=OrgOut,
              responses=problem_responses(Unauthorized, NotPermitted, NotFound, AdminImmutable,
                                          InvalidInput))
def patch_org(org_id: OrgId, body: OrgPatch, principal: KeyDep,
              session: SessionDep) -> OrgOut:
    principal.require_admin(org_id)
    if "admin_member_id" in body.model_fields_set or "admin" in body.model_fields_set:
        raise AdminImmutable("the admin account cannot be changed")
    org = writable_org(session, org_id)
    changes = body.model_dump(exclude_none=True, exclude={"admin_member_id", "admin"})
    try:
        changed = orgs.update_org(org, changes)
        session.flush()
    except AdminImmutableError as exc:  # the model guard: a second line of defence
        raise AdminImmutable(str(exc)) from None
    audit(session, org_id, principal.actor, "org.updated", f"org:{org_id}",
          fields=sorted(changed))
    return _org_out(session, org)


@router.put("/orgs/{org_id}/key-policy",
            summary="Set the key policy: maximum lifetime, revocation of unused keys",
            response_model=KeyPolicyOut,
            responses=problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput))
def put_key_policy(org_id: OrgId, body: KeyPolicyIn, principal: KeyDep,
                   session: SessionDep) -> KeyPolicyOut:
    principal.require_admin(org_id)
    org = org_service.set_key_policy(
        session, org_id, max_key_lifetime_days=body.max_key_lifetime_days,
        revoke_unused_keys_after_days=body.revoke_unused_keys_after_days, actor=principal.actor)
    return KeyPolicyOut(max_key_lifetime_days=org.max_key_lifetime_days,
                        revoke_unused_keys_after_days=org.revoke_unused_keys_after_days)


@router.get("/orgs/{org_id}/payment-method", summary="The card on file, masked",
            response_model=PaymentOut, responses=READ_ERRORS)
def get_payment_method(org_id: OrgId, principal: KeyDep, session: SessionDep) -> PaymentOut:
    principal.require_admin(org_id)
    org_or_404(session, org_id)
    card = orgs.payment_method(session, org_id)
    if card is None:
        raise NotFound("no payment method on file")
    return _payment_out(card)


@router.put("/orgs/{org_id}/payment-method",
            summary="Set the card on file (provider token; a card number is refused)",
            response_model=PaymentOut,
            responses=problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput))
def put_payment_method(org_id: OrgId, body: PaymentIn, principal: KeyDep,
                       session: SessionDep) -> PaymentOut:
    principal.require_admin(org_id)
    facts = orgs.CardFacts(token=body.token, brand=body.brand, last4=body.last4,
                           exp_month=body.exp_month, exp_year=body.exp_year)
    return _payment_out(org_service.set_payment_method(session, org_id, facts,
                                                       actor=principal.actor))
