"""Usage and billing reads: the console's "Usage & billing" page, and what is still owed.

A period is a calendar month in UTC, written `YYYY-MM` as on invoices. Usage of a period is
the records whose `recorded_at` falls in that month, read through the `(org_id, recorded_at)`
index. Usage not yet billed by an invoice is outstanding: like an unpaid invoice, it has to be
settled before the org can be deleted (`store.plan`).

Usage and invoices have no write route (a metering pipeline and the billing provider make
them); `add_invoices` and `add_usage` are the one place rows of either are written, for the
seed and for tests, so they have one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, bindparam, func, insert, select
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
class Owed:
    """What an org still has to settle: unpaid invoices and usage no invoice billed yet."""

    unpaid_invoices: int
    unpaid_cents: dict[str, int]  # per currency
    outstanding_usage: int
    outstanding_quantity: dict[str, int]  # per service


def owed(session: Session, org_id: str) -> Owed:
    unpaid = session.execute(_UNPAID, {"owed_org": org_id}).all()
    usage = session.execute(_OUTSTANDING, {"owed_org": org_id}).all()
    return Owed(unpaid_invoices=sum(int(n) for _, n, _ in unpaid),
                unpaid_cents={str(c): int(a) for c, _, a in unpaid},
                outstanding_usage=sum(int(n) for _, n, _ in usage),
                outstanding_quantity={Service(s).value: int(q) for s, _, q in usage})


# Built once, on a bound parameter: the teardown plan asks them on every view, and building
# them per call cost more CPU than the database took to answer them.
_UNPAID = (select(Invoice.currency, func.count(), func.sum(Invoice.amount_cents))
           .where(Invoice.org_id == bindparam("owed_org"), Invoice.status == InvoiceStatus.UNPAID)
           .group_by(Invoice.currency))
_OUTSTANDING = (select(UsageRecord.service, func.count(), func.sum(UsageRecord.quantity))
                .where(UsageRecord.org_id == bindparam("owed_org"),
                       UsageRecord.invoice_id.is_(None))
                .group_by(UsageRecord.service))


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
