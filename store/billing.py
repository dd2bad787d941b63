"""Usage and billing reads: the console's "Usage & billing" page.

A period is a calendar month in UTC, written `YYYY-MM` as on invoices. Usage of a period is
the records whose `recorded_at` falls in that month, read through the `(org_id, recorded_at)`
index. Usage not yet billed by an invoice is outstanding: like an unpaid invoice, it has to be
settled before the org can be deleted (`store.plan` reads what is still owed).

Usage and invoices have no write route (a metering pipeline and the billing provider make
them); `add_invoices` and `add_usage` are the one place rows of either are written, for the
seed and for tests, so they have one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from store.base import new_id
from store.models import Invoice, InvoiceStatus, Service, UsageRecord
from store.paging import keyset_page


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of the month `YYYY-MM` in UTC; ValueError for anything else."""
    year, month = (int(part) for part in period.split("-", 1))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _usage_query(org_id: str, period: str | None, service: Service | None
                 ) -> Select[UsageRecord]:
    query = select(UsageRecord).where(UsageRecord.org_id == org_id)
    if period is not None:
        start, end = period_bounds(period)
        query = query.where(UsageRecord.recorded_at >= start, UsageRecord.recorded_at < end)
    if service is not None:
        query = query.where(UsageRecord.service == service)
    return query


def usage_page(session: Session, org_id: str, *, period: str | None = None,
               service: Service | None = None, limit: int = 100,
               after: int = 0) -> tuple[list[UsageRecord], str | None]:
    return keyset_page(session, _usage_query(org_id, period, service), UsageRecord.id,
                       limit=limit, after=after)


def usage_totals(session: Session, org_id: str, *, period: str | None = None,
                 service: Service | None = None) -> dict[str, int]:
    """Quantity per service over every record the filter matches (not just one page)."""
    base = _usage_query(org_id, period, service).subquery()
    rows = session.execute(select(base.c.service, func.sum(base.c.quantity))
                           .group_by(base.c.service))
    return {Service(s).value: int(q) for s, q in rows}


def invoices_page(session: Session, org_id: str, *, status: InvoiceStatus | None = None,
                  period: str | None = None, limit: int = 50,
                  after: str = "") -> tuple[list[Invoice], str | None]:
    query = select(Invoice).where(Invoice.org_id == org_id)
    if status is not None:
        query = query.where(Invoice.status == status)
    if period is not None:
        query = query.where(Invoice.period == period)
    return keyset_page(session, query, Invoice.id, limit=limit, after=after)


@dataclass(frozen=True)
class NewInvoice:
    period: str  # YYYY-MM
    amount_cents: int
    status: InvoiceStatus
    issued_at: datetime
    currency: str = "USD"


@dataclass(frozen=True)
class NewUsage:
    service: Service
    quantity: int
    recorded_at: datetime
    project_id: str | None = None
    member_id: str | None = None
    invoice_id: str | None = None  # None: outstanding, not billed yet


def add_invoices(session: Session, org_id: str, invoices: list[NewInvoice]) -> list[str]:
    """Insert the org's invoices in one statement; their ids, in order."""
    ids = [new_id() for _ in invoices]
    if invoices:
        session.execute(insert(Invoice), [
            dict(id=i, org_id=org_id, period=v.period, amount_cents=v.amount_cents,
                 currency=v.currency, status=v.status, issued_at=v.issued_at)
            for i, v in zip(ids, invoices, strict=True)])
    return ids


def add_usage(session: Session, org_id: str, usage: list[NewUsage]) -> int:
    """Insert the org's usage records in one statement; how many."""
    if usage:
        session.execute(insert(UsageRecord), [
            dict(org_id=org_id, project_id=u.project_id, member_id=u.member_id,
                 service=u.service, quantity=u.quantity, recorded_at=u.recorded_at,
                 invoice_id=u.invoice_id) for u in usage])
    return len(usage)
