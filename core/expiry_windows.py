"""Reminder windows and how an expiry is shown to a person: pure functions, no I/O.

Why "time left <= window" and not "time left within [window - interval, window]": a sweep that
did not run (downtime, a paused schedule) must delay a reminder, never skip it. The ledger row
makes the same window fire only once, so the open-ended test is safe to repeat every sweep.

When several windows have passed at once (a key created five days before it expires), only the
closest window is sent; the wider ones are recorded as superseded, so nobody gets "30 days
left" and "7 days left" in the same mail about a key that has five.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EXPIRED = "expired"


def window_label(days: int) -> str:
    return f"{days}d"


@dataclass(frozen=True)
class Decision:
    """The window to announce now (None: not due yet) and the wider windows it supersedes."""

    send: str | None
    superseded: tuple[str, ...]


def decide(due_at: datetime, now: datetime, windows_days: list[int]) -> Decision:
    """Which reminder `due_at` deserves at `now`, given windows in days (any order)."""
    widest_first = sorted(windows_days, reverse=True)
    left = due_at - now
    if left <= timedelta(0):
        return Decision(EXPIRED, tuple(window_label(d) for d in widest_first))
    passed = [d for d in widest_first if left <= timedelta(days=d)]
    if not passed:
        return Decision(None, ())
    closest = passed[-1]
    return Decision(window_label(closest),
                    tuple(window_label(d) for d in passed[:-1]))


def horizon(now: datetime, windows_days: list[int]) -> datetime:
    """The latest expiry that is due for some window at `now`."""
    return now + timedelta(days=max(windows_days))


def card_due_at(exp_year: int, exp_month: int) -> datetime:
    """A card is valid through the last day of its expiry month: it ends at the next month."""
    if exp_month == 12:
        return datetime(exp_year + 1, 1, 1, tzinfo=UTC)
    return datetime(exp_year, exp_month + 1, 1, tzinfo=UTC)


def card_expired(exp_year: int, exp_month: int, now: datetime) -> bool:
    """The one card validity rule: the console's payment check, the card form and the sweep's
    card reminders all ask this (or `card_due_at`)."""
    return card_due_at(exp_year, exp_month) <= now


def month_index(moment: datetime) -> int:
    """`year * 12 + month` in UTC: cards with `exp_year * 12 + exp_month < month_index(t)`
    end at or before `t` (their end is the first instant of the following month)."""
    utc = moment.astimezone(UTC)
    return utc.year * 12 + utc.month


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def relative_time(due_at: datetime, now: datetime) -> str:
    """"in 6 days", "in 5 hours", "expired 2 days ago": whole units, rounded down."""
    left = due_at - now
    span = abs(left)
    if span >= timedelta(days=1):
        text = _plural(span.days, "day")
    elif span >= timedelta(hours=1):
        text = _plural(span.seconds // 3600, "hour")
    else:
        text = _plural(max(1, span.seconds // 60), "minute")
    return f"in {text}" if left > timedelta(0) else f"expired {text} ago"


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The named zone, else the fallback, else UTC: a bad zone in a profile must not stop mail."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def format_expiry(due_at: datetime, tz: ZoneInfo) -> str:
    """UTC first, then local time with an explicit offset, so no reader has to guess a zone."""
    utc = due_at.astimezone(UTC)
    local = due_at.astimezone(tz)
    offset = local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}"
    return (f"{utc:%Y-%m-%d %H:%M} UTC ({local:%Y-%m-%d %H:%M} {tz.key}, {offset})")
