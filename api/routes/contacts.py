"""Essential contacts: the technical, billing and security addresses of an org (admin only).

The technical and security contacts receive the teardown's notices beside the admin; billing
contacts are kept for the billing side. See `services.contacts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyDep
from api.deps import SessionDep
from api.one_hop import OneHopRoute
from api.params import OrgId
from api.problems import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    OrgFrozen,
    Unauthorized,
    problem_responses,
)
from core.text import OneLine
from services import contacts as service
from services.names import EMAIL_MAX
from store.contact_models import OrgContact

router = APIRouter(route_class=OneHopRoute, tags=["contacts"])

ContactId = Annotated[str, Path(min_length=1, max_length=64, description="contact id")]
READ_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound)
WRITE_ERRORS = problem_responses(Unauthorized, NotPermitted, OrgFrozen, NotFound, Conflict,
                                 InvalidInput)
EXAMPLE: dict[str, Any] = {"id": "5d0c...", "kind": "security", "email": "security@acme.example",
           "added_by": "key:olt_AbCdEf12", "created_at": "2026-01-01T00:00:00+00:00"}


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "security", "email": "security@acme.example"}]})

    kind: Literal["technical", "billing", "security"] = Field(
        description="technical and security contacts receive the teardown's notices")
    email: OneLine = Field(max_length=EMAIL_MAX, description="no account needed")


class ContactOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: str
    kind: str
    email: str
    added_by: str
    created_at: datetime


class ContactList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [EXAMPLE]}]})

    items: list[ContactOut]


def _out(row: OrgContact) -> ContactOut:
    return ContactOut(id=row.id, kind=row.kind, email=row.email, added_by=row.added_by,
                      created_at=row.created_at)


@router.get("/orgs/{org_id}/contacts", response_model=ContactList, responses=READ_ERRORS,
            summary="The org's essential contacts (admin only)")
def list_contacts(org_id: OrgId, principal: KeyDep, session: SessionDep) -> ContactList:
    principal.require_admin(org_id)
    return ContactList(items=[_out(r) for r in service.list_contacts(session, org_id)])


@router.post("/orgs/{org_id}/contacts", status_code=201, response_model=ContactOut,
             responses=WRITE_ERRORS,
             summary="Add a technical, billing or security contact (admin only; audited)")
def add_contact(org_id: OrgId, body: ContactIn, principal: KeyDep,
                session: SessionDep) -> ContactOut:
    principal.require_admin(org_id)
    return _out(service.add_contact(session, org_id, body.kind, body.email,
                                    actor=principal.actor))


@router.delete("/orgs/{org_id}/contacts/{contact_id}", status_code=204,
               responses=WRITE_ERRORS, summary="Remove a contact (admin only; audited)")
def remove_contact(org_id: OrgId, contact_id: ContactId, principal: KeyDep,
                   session: SessionDep) -> Response:
    principal.require_admin(org_id)
    service.remove_contact(session, org_id, contact_id, actor=principal.actor)
    return Response(status_code=204)
