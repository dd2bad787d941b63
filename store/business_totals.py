"""All-time business totals, counted from records the engine keeps anyway.

Why from the database and not from in-process counters: the API and the worker are separate
processes, there may be many of each, and any of them restarts at will. A counter kept in a
worker's memory would start again at zero on every restart and each replica would report its
own share. The durable records below are written in the same transaction as the work they
describe and are never deleted, so a count of them is monotonic (a true Prometheus counter),
survives restarts, and every process that reads it reports the same value:

- teardowns started / completed / failed / cancelled: the `teardown.requested` (written when
  the workflow freezes the org, so it counts teardowns started by any client, once),
  `teardown.completed`, `teardown.failed` and `teardown.cancelled` audit events;
- records purged: the teardown ledger's `records:` rows, one per deleted batch with its count,
  written exactly once in the batch's own transaction (they move while a purge runs);
- reminders sent: reminder digests in the outbox marked `sent`, per channel (the reminder
  ledger rows themselves are org-owned and go with a torn-down org, the outbox stays);
- keys expired: `api_key.expired` audit events written with the sweep's expired marker.

Each query reads one index (`ix_audit_events_action`, and two partial indexes that hold only
the rows counted, whose predicates the queries repeat verbatim, without bound parameters, so
both PostgreSQL and SQLite match them), so a scrape stays cheap as the tables grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from store.models import (
    PURGED_BATCHES,
    SENT_REMINDER_DIGESTS,
    AuditEvent,
    OutboxMessage,
    TeardownLedger,
)
from store.reminders import KEY_EXPIRED

TEARDOWN_ACTIONS = {
    "teardown.requested": "started",
    "teardown.completed": "completed",
    "teardown.failed": "failed",
    "teardown.cancelled": "cancelled",
}


@dataclass(frozen=True)
class BusinessTotals:
    """Counts since the database was created; every field only ever grows."""

    teardowns: dict[str, int] = field(default_factory=dict)  # started|completed|failed|...
    records_purged: int = 0
    reminders_sent: dict[str, int] = field(default_factory=dict)  # by channel
    keys_expired: int = 0


def business_totals(session: Session) -> BusinessTotals:
    """Read every total in three indexed queries."""
    actions = dict(session.execute(
        select(AuditEvent.action, func.count())
        .where(AuditEvent.action.in_([*TEARDOWN_ACTIONS, KEY_EXPIRED]))
        .group_by(AuditEvent.action)).all())
    purged = session.execute(select(func.coalesce(func.sum(TeardownLedger.count), 0))
                             .where(text(PURGED_BATCHES))).scalar_one()
    sent = dict(session.execute(
        select(OutboxMessage.channel, func.count()).where(text(SENT_REMINDER_DIGESTS))
        .group_by(OutboxMessage.channel)).all())
    return BusinessTotals(
        teardowns={outcome: int(actions.get(action, 0))
                   for action, outcome in TEARDOWN_ACTIONS.items()},
        records_purged=int(purged),
        reminders_sent={str(channel): int(n) for channel, n in sent.items()},
        keys_expired=int(actions.get(KEY_EXPIRED, 0)))
