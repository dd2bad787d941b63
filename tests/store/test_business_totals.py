"""`business_totals` counts exactly the durable records it names, on both databases: each
teardown outcome's audit action, purged-batch ledger rows only, sent reminder digests only."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from activities.digests import batch_key
from store import ledger
from store.audit import audit
from store.base import utcnow
from store.business_totals import business_totals
from store.models import OutboxMessage
from store.reminders import KEY_EXPIRED


def _outbox(session: Session, key: str, channel: str, status: str) -> None:
    session.execute(insert(OutboxMessage).values(
        idempotency_key=key, org_id="o1", channel=channel, recipient="r", body="b",
        status=status, created_at=utcnow()))


def test_each_total_counts_its_own_records_and_nothing_else(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        for action, times in {"teardown.requested": 3, "teardown.completed": 1,
                              "teardown.failed": 2, "teardown.cancelled": 1,
                              KEY_EXPIRED: 4, "teardown.started": 5,
                              "api_key.deleted": 6}.items():
            for _ in range(times):
                audit(session, "o1", "actor", action)
        ledger.record(session, "o1", "records:p1:d1:100", 100)
        ledger.record(session, "o1", "records:p1:d1:130", 30)
        ledger.record(session, "o2", "records:p2:d2:7", 7)
        ledger.record(session, "o1", "snapshot:dataset_records", 137)  # not a purge
        ledger.record(session, "o1", "datasets:p1", 1)
        for n, (channel, status) in enumerate([("email", "sent"), ("email", "sent"),
                                               ("webhook", "sent"), ("email", "pending"),
                                               ("webhook", "failed")]):
            _outbox(session, batch_key("sweep", "o1", [n]) + f":{channel}:{n}", channel, status)
        _outbox(session, "org-teardown-o1:run:completed", "email", "sent")  # a notice

    with session_factory() as session:
        totals = business_totals(session)
    assert totals.teardowns == {"started": 3, "completed": 1, "failed": 2, "cancelled": 1}
    assert totals.keys_expired == 4
    assert totals.records_purged == 137
    assert totals.reminders_sent == {"email": 2, "webhook": 1}


def test_an_empty_database_reports_zeros(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        totals = business_totals(session)
    assert totals.teardowns == {"started": 0, "completed": 0, "failed": 0, "cancelled": 0}
    assert (totals.records_purged, totals.keys_expired, totals.reminders_sent) == (0, 0, {})
