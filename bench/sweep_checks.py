"""What the sweep benchmark checks after each side: counts from SQL written apart from both.

Why separate queries: a benchmark that trusts the totals of the code it times would not notice
a faster sweep that quietly skipped keys. The expected counts are taken from the seeded keys
before anything runs; the ledger is then counted directly, and a fingerprint of its rows shows
that the engine and the raw baseline wrote the same reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

DUE_SQL = """
SELECT count(*) AS due, {passed} AS rows
FROM api_keys k JOIN organizations o ON o.id = k.org_id
WHERE o.status = 'active' AND k.revoked_at IS NULL AND k.expires_at <= :horizon
"""

LEDGER_SQL = """
SELECT count(*) FILTER (WHERE status NOT IN ('superseded', 'void')) AS announced,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) AS rows,
       md5(string_agg(subject_id || ':' || "window" || ':' || (status = 'superseded')::text,
                      ',' ORDER BY subject_id, "window")) AS fingerprint
FROM reminders WHERE subject_kind = 'api_key'
"""


@dataclass(frozen=True)
class Expected:
    due_keys: int  # one reminder each: its closest window, or the expired notice
    ledger_rows: int  # that reminder plus every wider window it supersedes


@dataclass(frozen=True)
class Ledger:
    announced: int
    pending: int
    rows: int
    fingerprint: str


def expected(engine: Engine, now: datetime, windows_days: list[int]) -> Expected:
    """Due keys and ledger rows by the rule of docs/sweep.md, counted on the seeded keys.

    A key past its expiry gets the notice and all windows; otherwise one row per window whose
    length is at least the time left.
    """
    per_window = " + ".join(f"(k.expires_at <= :now + interval '{24 * d} hours')::int"
                            for d in windows_days)
    passed = (f"coalesce(sum(CASE WHEN k.expires_at <= :now THEN {len(windows_days) + 1} "
              f"ELSE {per_window} END), 0)")
    with engine.connect() as conn:
        row = conn.execute(text(DUE_SQL.format(passed=passed)), {
            "now": now, "horizon": now + timedelta(days=max(windows_days))}).one()
    return Expected(due_keys=int(row.due), ledger_rows=int(row.rows))


def ledger(engine: Engine) -> Ledger:
    with engine.connect() as conn:
        row = conn.execute(text(LEDGER_SQL)).one()
    return Ledger(int(row.announced), int(row.pending), int(row.rows), str(row.fingerprint))


def check(side: str, found: Ledger, want: Expected, *, all_announced: bool) -> None:
    """Fail the benchmark when a side's ledger differs from the expected counts.

    The engine ends with every reminder queued or sent (`all_announced`); the raw baseline
    writes no digests, so its reminders stay pending.
    """
    problems = []
    if found.announced != want.due_keys:
        problems.append(f"{found.announced:,} reminders, {want.due_keys:,} due keys")
    if found.rows != want.ledger_rows:
        problems.append(f"{found.rows:,} ledger rows, {want.ledger_rows:,} expected")
    if all_announced and found.pending:
        problems.append(f"{found.pending:,} reminders still pending")
    if not all_announced and found.pending != want.due_keys:
        problems.append(f"{found.pending:,} pending, {want.due_keys:,} expected")
    if problems:
        raise SystemExit(f"{side}: " + "; ".join(problems))
