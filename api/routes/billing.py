"""Usage and billing: the console's "Usage & billing" page (admin).

Usage records filter by period (a UTC month, `YYYY-MM`) and service, with totals per service
over the whole filter; invoices by status and period. What is still owed (unpaid invoices,
usage no invoice billed yet) is what blocks a teardown: the teardown plan lists every such
blocker with its code at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyDep
from api.deps import SessionDep
from api.guards import org_or_404
from api.one_hop import OneHopRoute
from api.params import NumericCursor, OrgId, PageCursor, PageLimit, numeric
from api.problems import InvalidInput, NotFound, NotPermitted, Unauthorized, problem_responses
from store import billing
from store.models import Invoice, InvoiceStatus, Service, UsageRecord

router = APIRouter(route_class=OneHopRoute, tags=["billing"])

ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput)
PERIOD_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"
Period = Annotated[str | None, Query(pattern=PERIOD_PATTERN,
                                     description="a calendar month in UTC, YYYY-MM")]


class UsageOut(BaseModel):
    id: int
    service: Service
    quantity: int
    project_id: str | None
    member_id: str | None
    recorded_at: datetime
    invoice_id: str | None = Field(description="the invoice that billed it; null: outstanding")


class UsagePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"id": 41, "service": "container_compute", "quantity": 120,
                   "project_id": "7c1e...", "member_id": "9b2d...",
                   "recorded_at": "2026-11-03T10:00:00Z", "invoice_id": None}],
        "totals": {"container_compute": 120}, "next_cursor": None}]})

    items: list[UsageOut]
    totals: dict[str, int] = Field(description="quantity per service over the whole filter")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class InvoiceOut(BaseModel):
    id: str
    period: str
    amount_cents: int
    currency: str
    status: InvoiceStatus
    issued_at: datetime


class InvoicePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"id": "a1b2...", "period": "2026-10", "amount_cents": 12500,
                   "currency": "USD", "status": "unpaid", "issued_at": "2026-11-01T00:00:00Z"}],
        "next_cursor": None}]})

    items: list[InvoiceOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


def _usage(row: UsageRecord) -> UsageOut:
    return UsageOut(id=row.id, service=row.service, quantity=row.quantity,
                    project_id=row.project_id, member_id=row.member_id,
                    recorded_at=row.recorded_at, invoice_id=row.invoice_id)


def _invoice(row: Invoice) -> InvoiceOut:
    return InvoiceOut(id=row.id, period=row.period, amount_cents=row.amount_cents,
                      currency=row.currency, status=row.status, issued_at=row.issued_at)


@router.get("/orgs/{org_id}/usage", response_model=UsagePage, responses=ERRORS,
            summary="Usage records by period and service, with totals (admin)")
def list_usage(org_id: OrgId, principal: KeyDep, session: SessionDep, period: Period = None,
               service: Service | None = None, limit: PageLimit = 100,
               cursor: NumericCursor = "") -> UsagePage:
    principal.require_admin(org_id)
    org_or_404(session, org_id)
    rows, next_cursor = billing.usage_page(session, org_id, period=period, service=service,
                                           limit=limit, after=numeric(cursor))
    totals = billing.usage_totals(session, org_id, period=period, service=service)
    return UsagePage(items=[_usage(r) for r in rows], totals=totals, next_cursor=next_cursor)


@router.get("/orgs/{org_id}/invoices", response_model=InvoicePage, responses=ERRORS,
            summary="Invoices with status, amount and period (admin)")
def list_invoices(org_id: OrgId, principal: KeyDep, session: SessionDep,
                  status: InvoiceStatus | None = None, period: Period = None,
                  limit: PageLimit = 50, cursor: PageCursor = "") -> InvoicePage:
    principal.require_admin(org_id)
    org_or_404(session, org_id)
    rows, next_cursor = billing.invoices_page(session, org_id, status=status, period=period,
                                              limit=limit, after=cursor)
    return InvoicePage(items=[_invoice(r) for r in rows], next_cursor=next_cursor)
