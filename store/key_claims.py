"""One page of the key sweep's claims as one PostgreSQL statement.

Why in SQL: the profile of a million-key sweep showed each page's time in moving keys into
Python and ledger rows back (a select, a read of existing ledger rows, a decision per key, a
multi-row insert and an update: five round trips and per-row Python work). Here the database
walks the `(expires_at, id)` index from the cursor, decides each key's windows, inserts the
ledger rows (ignoring the ones that exist, as `reminders.claim` does: the unique row still
decides "exactly once") and marks the expired keys with their `api_key.expired` audit events
(`reminders.mark_keys_expired`'s contract; the marker re-checked on the row, so an overlapping
sweep adds no second event), in one round trip per page.

The window rule is `core.expiry_windows.decide` written as a join: the `expired` notice is
a window of 0 days, a key has passed every window whose length is at least its time left, the
closest of those is `pending` and the wider ones `superseded`. SQLite keeps the Python path;
both are run by the sweep tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.expiry_windows import EXPIRED, horizon, window_label
from store.reminders import KEY_EXPIRED

# Before every key: the first page starts here (timestamptz and text both order after it).
START = (datetime(1, 1, 1, tzinfo=UTC), "")

PAGE_SQL = text("""
WITH page AS (
    SELECT k.id, k.org_id, k.expires_at
    FROM api_keys k JOIN organizations o ON o.id = k.org_id
    WHERE (k.expires_at, k.id) > (:after_at, :after_id) AND k.expires_at <= :horizon
      AND k.revoked_at IS NULL AND o.status = 'active'
      AND (k.expired_marked_at IS NULL OR k.expired_marked_at < k.expires_at)
    ORDER BY k.expires_at, k.id
    LIMIT :limit
), passed AS (
    SELECT page.id, page.org_id, page.expires_at, w.label, w.days,
           min(w.days) OVER (PARTITION BY page.id) AS closest
    FROM page JOIN unnest(CAST(:labels AS text[]), CAST(:days AS int[])) AS w(label, days)
      ON page.expires_at <= :now + w.days * interval '24 hours'
), claimed AS (
    INSERT INTO reminders (org_id, subject_kind, subject_id, "window", due_at, status,
                           created_at)
    SELECT org_id, 'api_key', id, label, expires_at,
           CASE WHEN days = closest THEN 'pending' ELSE 'superseded' END, :created
    FROM passed
    ON CONFLICT ON CONSTRAINT uq_reminders_subject_window_due DO NOTHING
    RETURNING 1
), marked AS (
    UPDATE api_keys k SET expired_marked_at = :now
    FROM page
    WHERE k.id = page.id AND page.expires_at <= :now
      AND (k.expired_marked_at IS NULL OR k.expired_marked_at < k.expires_at)
    RETURNING k.org_id, k.prefix
), audited AS (
    INSERT INTO audit_events (org_id, actor, action, target, detail, created_at)
    SELECT org_id, :actor, :expired_action, 'key:' || prefix, CAST('{}' AS json), :created
    FROM marked
    RETURNING 1
), last AS (
    SELECT expires_at, id FROM page ORDER BY expires_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM page) AS due, (SELECT count(*) FROM claimed) AS claimed,
       (SELECT count(*) FROM marked) AS marked, last.expires_at, last.id
FROM (SELECT 1) AS one LEFT JOIN last ON true
""")


@dataclass(frozen=True)
class KeyPage:
    """How many keys the page held, and the last one (the next page's cursor)."""

    due: int
    claimed: int
    marked: int
    last: tuple[datetime, str] | None


def claim_page(session: Session, now: datetime, windows_days: list[int],
               after: tuple[datetime, str] | None, limit: int, created: datetime,
               actor: str = "sweep") -> KeyPage:
    """Claim the reminders of up to `limit` due keys after `after`, in the caller's
    transaction; keys are due when they expire within the widest window of `now`."""
    at, key_id = after or START
    row = session.execute(PAGE_SQL, {
        "after_at": at, "after_id": key_id, "limit": limit, "now": now,
        "horizon": horizon(now, windows_days), "created": created,
        "actor": actor, "expired_action": KEY_EXPIRED,
        "labels": [EXPIRED] + [window_label(d) for d in windows_days],
        "days": [0, *windows_days]}).one()
    last = (row.expires_at, row.id) if row.id is not None else None
    return KeyPage(int(row.due), int(row.claimed), int(row.marked), last)
