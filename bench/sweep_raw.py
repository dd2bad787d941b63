"""The sweep benchmark's raw baseline: what a hurried operator would type into psql.

Two statements in one transaction, no orchestration, no paging:

1. select the due keys (live, in an active org, not yet announced as expired, expiring by the
   widest window's horizon) on the `(expires_at, id)` index, cross them with the windows that
   have passed for each (the `expired` notice counts as a window of 0 days), and insert one
   ledger row per pair: the closest window `pending`, the wider ones `superseded`, conflicts
   ignored. These are exactly the rows the sweep's claim phase writes.
2. set `expired_marked_at` on the due keys that are already past their expiry.

What it leaves out, on purpose: digests, the outbox and mail (the engine's compose and deliver
phases have no counterpart here), retries, progress and crash safety beyond one transaction.
The benchmark prints the engine's phases beside it so the comparison can be read both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from core.expiry_windows import EXPIRED, window_label

LEDGER_SQL = """
WITH due AS (
    SELECT k.id, k.org_id, k.expires_at
    FROM api_keys k JOIN organizations o ON o.id = k.org_id
    WHERE k.expires_at <= :horizon AND k.revoked_at IS NULL AND o.status = 'active'
      AND (k.expired_marked_at IS NULL OR k.expired_marked_at < k.expires_at)
), passed AS (
    SELECT due.id, due.org_id, due.expires_at, w.label, w.days,
           min(w.days) OVER (PARTITION BY due.id) AS closest
    FROM due JOIN unnest(CAST(:labels AS text[]), CAST(:days AS int[])) AS w(label, days)
      ON due.expires_at <= :now + w.days * interval '24 hours'
)
INSERT INTO reminders (org_id, subject_kind, subject_id, "window", due_at, status, created_at)
SELECT org_id, 'api_key', id, label, expires_at,
       CASE WHEN days = closest THEN 'pending' ELSE 'superseded' END, :now
FROM passed
ON CONFLICT ON CONSTRAINT uq_reminders_subject_window_due DO NOTHING
"""

MARK_SQL = """
UPDATE api_keys k SET expired_marked_at = :now
FROM organizations o
WHERE o.id = k.org_id AND o.status = 'active' AND k.expires_at <= :now
  AND k.revoked_at IS NULL
  AND (k.expired_marked_at IS NULL OR k.expired_marked_at < k.expires_at)
"""


@dataclass(frozen=True)
class RawSweep:
    ledger_rows: int
    marked_expired: int


def sweep(engine: Engine, now: datetime, windows_days: list[int]) -> RawSweep:
    """Write the ledger rows and expired markers of every key due at `now`, in one go."""
    labels = [EXPIRED] + [window_label(d) for d in windows_days]
    days = [0, *windows_days]
    with engine.begin() as conn:
        inserted = conn.execute(text(LEDGER_SQL), {
            "now": now, "horizon": now + timedelta(days=max(windows_days)),
            "labels": labels, "days": days}).rowcount
        marked = conn.execute(text(MARK_SQL), {"now": now}).rowcount
    return RawSweep(ledger_rows=inserted, marked_expired=marked)
