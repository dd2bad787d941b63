"""The teardown dry run: what would be deleted, and what must be settled first.

Shared by the API (shown before the admin confirms) and the freeze activity (which refuses to
start when a blocking item appeared between the preview and the confirmation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import (
    CompoundSelect,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from store.base import Base
from store.models import (
    Dataset,
    Invoice,
    InvoiceStatus,
    Organization,
    OrgStatus,
    ProjectDeletionRequest,
    Service,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
    UsageRecord,
)
from store.ownership import ORG, leftover_counts
from store.requests import LIVE

RECORDS_TABLE = "dataset_records"


@dataclass
class Blocker:
    code: str
    reason: str
    blocking: bool
    detail: dict[str, Any] = field(default_factory=dict)  # counts and amounts behind `reason`


@dataclass
class TeardownPlan:
    org_id: str
    status: str
    counts: dict[str, int]
    blockers: list[Blocker] = field(default_factory=list)
    confirmation_phrase: str = ""

    @property
    def blocked(self) -> bool:
        return any(b.blocking for b in self.blockers)


def owned_counts(session: Session, org_id: str) -> dict[str, int]:
    """Rows the org owns in every registered table (the same query the verifier runs)."""
    return leftover_counts(session, org_id, dict(Base.metadata.tables))


_STORED_RECORDS = select(func.coalesce(func.sum(Dataset.record_count), 0)) \
    .where(Dataset.org_id == ORG)


def stored_counts(session: Session, org_id: str) -> dict[str, int]:
    """`owned_counts`, with the records read from the datasets' stored counts.

    Why: records are nearly all of an org's rows (a million for a large one), and every write
    of them changes `Dataset.record_count` in its own transaction (appends, bulk loads, purge
    batches, a dataset's deletion), so the sum is exact whenever a transaction can see it and
    costs one row per dataset instead of one per record. The verifier still counts the rows
    themselves (`owned_counts`): the proof that nothing is left never trusts a stored number.
    """
    counts = leftover_counts(session, org_id, dict(Base.metadata.tables),
                             skip=(RECORDS_TABLE,), extra={RECORDS_TABLE: _STORED_RECORDS})
    return dict(sorted(counts.items()))


class OrgState(Protocol):
    """What the blockers ask of an org: a loaded `Organization`, or a row of these columns."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> OrgStatus: ...


def compute_plan(session: Session, org_id: str) -> TeardownPlan | None:
    """The plan for `org_id`, or None when no such org exists."""
    org = session.execute(_ORG_STATE, {"plan_org": org_id}).one_or_none()
    if org is None:
        return None
    return TeardownPlan(org_id=org_id, status=org.status.value,
                        counts=stored_counts(session, org_id),
                        blockers=find_blockers(session, org), confirmation_phrase=org.name)


# Built once, on bound parameters, of Core columns (a row, not a loaded entity): the plan is
# shown on every view of the danger zone.
_ORG_STATE = (select(Organization.__table__.c.id, Organization.__table__.c.status,
                     Organization.__table__.c.name)
              .where(Organization.__table__.c.id == bindparam("plan_org")))


@dataclass(frozen=True)
class Facts:
    """What the blockers are made of: what is still owed (unpaid invoices and usage no
    invoice billed yet), project deletions under way, and the subscriptions a teardown
    cancels."""

    unpaid_invoices: int
    unpaid_cents: dict[str, int]  # per currency
    outstanding_usage: int
    outstanding_quantity: dict[str, int]  # per service
    deleting_projects: int
    active_subscriptions: dict[SubscriptionKind, int]


def _facts_statement() -> CompoundSelect[Any]:
    """Every fact behind the blockers as rows of (fact, key, count, amount), in ONE statement:
    one round trip and one snapshot where four grouped reads took four (the plan is shown on
    every view of the danger zone, and the freeze asks it again). Enum columns are read as
    their stored text, the same in every branch of the union."""
    org: Any = bindparam("facts_org")
    text = String(32)

    def tag(name: str) -> Any:
        return literal_column(f"'{name}'", text).label("fact")

    deletions = ProjectDeletionRequest
    return union_all(
        select(tag("unpaid"), cast(Invoice.currency, text).label("key"),
               func.count().label("n"), func.sum(Invoice.amount_cents).label("amount"))
        .where(Invoice.org_id == org, Invoice.status == InvoiceStatus.UNPAID)
        .group_by(Invoice.currency),
        select(tag("usage"), cast(UsageRecord.service, text), func.count(),
               func.sum(UsageRecord.quantity))
        .where(UsageRecord.org_id == org, UsageRecord.invoice_id.is_(None))
        .group_by(UsageRecord.service),
        select(tag("deleting"), literal_column("''", text), func.count(), literal_column("0"))
        .select_from(deletions)
        .where(deletions.org_id == org, deletions.status.in_(LIVE)),
        select(tag("active"), cast(Subscription.kind, text), func.count(), literal_column("0"))
        .where(Subscription.org_id == org, Subscription.status == SubscriptionStatus.ACTIVE)
        .group_by(Subscription.kind))


# Built once, on a bound parameter: building it per call cost more CPU than answering it.
_FACTS = _facts_statement()


def read_facts(session: Session, org_id: str) -> Facts:
    rows = session.execute(_FACTS, {"facts_org": org_id}).all()

    def of(fact: str) -> list[tuple[str, int, int]]:
        return [(key, int(n), int(amount)) for tag, key, n, amount in rows if tag == fact]

    unpaid, usage = of("unpaid"), of("usage")
    return Facts(unpaid_invoices=sum(n for _, n, _ in unpaid),
                 unpaid_cents={str(currency): cents for currency, _, cents in unpaid},
                 outstanding_usage=sum(n for _, n, _ in usage),
                 outstanding_quantity={Service(service).value: q for service, _, q in usage},
                 deleting_projects=sum(n for _, n, _ in of("deleting")),
                 active_subscriptions={SubscriptionKind(kind): n for kind, n, _ in of("active")})


def find_blockers(session: Session, org: OrgState) -> list[Blocker]:
    """What must be settled (blocking) or will be cancelled (not blocking) before a teardown.

    Every blocker is reported in one answer, so an admin settles them all at once instead of
    meeting them one refusal at a time. Separate from the counts: the freeze needs only the
    blockers and counts the rows itself once, for its snapshot; counting a million records
    twice doubled its time.
    """
    blockers: list[Blocker] = []
    due = read_facts(session, org.id)
    if due.unpaid_invoices:
        amounts = ", ".join(f"{cents / 100:.2f} {currency}"
                            for currency, cents in sorted(due.unpaid_cents.items()))
        blockers.append(Blocker(
            "unpaid_invoices", f"{due.unpaid_invoices} unpaid invoice(s) ({amounts}) must be "
            "settled before deletion", blocking=True,
            detail={"count": due.unpaid_invoices, "amount_cents": due.unpaid_cents}))
    if due.outstanding_usage:
        blockers.append(Blocker(
            "outstanding_usage", f"{due.outstanding_usage} usage record(s) not invoiced yet "
            "must be billed and paid before deletion", blocking=True,
            detail={"count": due.outstanding_usage, "quantity": due.outstanding_quantity}))
    deleting = due.deleting_projects
    if deleting:
        blockers.append(Blocker(
            "project_deletions_running", f"{deleting} project deletion(s) under way must "
            "finish (or be cancelled) first", blocking=True, detail={"count": deleting}))
    if org.status is not OrgStatus.ACTIVE:
        blockers.append(Blocker(
            "not_active", f"the organization is {org.status.value}: a teardown is under way",
            blocking=True))
    active = due.active_subscriptions
    jobs = active.get(SubscriptionKind.JOB_PLAN, 0)
    if jobs:
        blockers.append(Blocker(
            "active_job_plans", f"{jobs} job plan subscription(s) will be cancelled",
            blocking=False, detail={"count": jobs}))
    if active.get(SubscriptionKind.WORKSPACE_CAPACITY, 0):
        blockers.append(Blocker(
            "workspace_capacity", "the AI workspace capacity plan will be cancelled",
            blocking=False))
    return blockers
