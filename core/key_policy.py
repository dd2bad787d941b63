"""The org's policy for keys nobody uses: revoke them after N idle days, warn a week before.

GitHub revokes tokens unused for a year; an org may ask the same of its keys. "Unused" is
measured from the key's last use, or from its creation when it was never used, so a key made
this morning is not idle just because it is new. The notice goes out `NOTICE_DAYS` before the
revocation, so the range starts above it: a policy shorter than the notice could not warn.
Pure functions, no I/O: the sweep, the API and the console share them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

NOTICE_DAYS = 7  # the reminder comes this long before the revocation
MIN_DAYS = NOTICE_DAYS + 1
MAX_DAYS = 3650
UNUSED = "unused"  # reminder ledger window: the key will be revoked unless used
UNUSED_REVOKED = "unused_revoked"  # reminder ledger window: the key was revoked as unused
REASON = "unused"  # the `reason` of its `api_key.revoked` audit and webhook events


def idle_since(last_used_at: datetime | None, created_at: datetime) -> datetime:
    """Where the key's current idle period began: its last use, or its creation."""
    return last_used_at if last_used_at is not None else created_at


def revoke_at(idle_from: datetime, days: int) -> datetime:
    return idle_from + timedelta(days=days)


def notice_cutoff(now: datetime, days: int) -> datetime:
    """Keys idle since this instant or earlier are due for the notice (or the revocation)."""
    return now - timedelta(days=days - NOTICE_DAYS)


def revoke_cutoff(now: datetime, days: int) -> datetime:
    """Keys idle since this instant or earlier are revoked."""
    return now - timedelta(days=days)


def decide(idle_from: datetime, now: datetime, days: int) -> str | None:
    """What an idle key deserves at `now` under a policy of `days`: nothing yet, the notice
    (`UNUSED`) or the revocation (`UNUSED_REVOKED`). Like the expiry windows the test is open
    ended, so a sweep that did not run delays the step but never skips it."""
    if idle_from <= revoke_cutoff(now, days):
        return UNUSED_REVOKED
    if idle_from <= notice_cutoff(now, days):
        return UNUSED
    return None


def check_days(days: int | None) -> str | None:
    """Why `days` is not a valid policy (None: it is; None days turns the policy off)."""
    if days is None or MIN_DAYS <= days <= MAX_DAYS:
        return None
    return f"keys may be revoked after {MIN_DAYS} to {MAX_DAYS} days unused, or never (null)"
