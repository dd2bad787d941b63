"""What a reminder digest says: the email text for one person, and each reminder's webhook event.

Pure functions over plain values, so the wording is tested without a database or a server.
Every expiry is shown in UTC and in the reader's zone with an explicit offset, plus a relative
time, because "expires 2026-03-01" read in Taipei and in New York are different days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import key_policy
from core import webhook_events as events
from core.expiry_windows import EXPIRED, format_expiry, relative_time, zone


@dataclass(frozen=True)
class Item:
    """One reminder in a digest: a key or a card, with what the reader needs to recognise it."""

    kind: str  # api_key | card
    subject_id: str
    window: str
    due_at: datetime
    label: str  # key name, or "visa ending 4242"
    detail: str  # "olt_AbCdEfGh, team key" or "valid through 03/2027"
    facts: dict[str, str | None]  # machine-readable fields for the webhook event
    # An unused key's notice or revocation: since when it is idle, when it is (was) revoked.
    idle_from: datetime | None = None
    revoke_at: datetime | None = None

    @property
    def unused(self) -> bool:
        return self.window in (key_policy.UNUSED, key_policy.UNUSED_REVOKED)

    @property
    def when(self) -> datetime:
        """The date the reader acts by: the expiry, or the unused key's revocation."""
        return self.revoke_at or self.due_at


def fix_link(item: Item, console_url: str) -> str:
    """Where the reader fixes the item: a key's extend dialog in the console, or the payment
    settings for a card (`LIFECYCLE_CONSOLE_URL`, the console's public address)."""
    if item.kind == "api_key":
        return f"{console_url}/console/keys?extend={item.subject_id}"
    return f"{console_url}/console/settings#payment"


def _line(item: Item, now: datetime, tz_name: str | None, org_tz: str,
          console_url: str) -> str:
    when = format_expiry(item.due_at, zone(tz_name, org_tz))
    what = "key" if item.kind == "api_key" else "payment card"
    status = ("EXPIRED" if item.window == EXPIRED
              else f"{item.window.removesuffix('d')}-day reminder")
    verb = "expired" if item.due_at <= now else "expires"
    action = "extend it" if item.kind == "api_key" else "change it"
    link = f"\n  {action}: {fix_link(item, console_url)}" if console_url else ""
    return (f"- {what} \"{item.label}\" ({item.detail}) [{status}]\n"
            f"  {verb} {when}, {relative_time(item.due_at, now)}{link}")


def _unused_line(item: Item, now: datetime, tz_name: str | None, org_tz: str,
                 console_url: str) -> str:
    where = zone(tz_name, org_tz)
    assert item.idle_from is not None
    since = f"unused since {format_expiry(item.idle_from, where)}"
    if item.window == key_policy.UNUSED_REVOKED:
        return (f"- key \"{item.label}\" ({item.detail}) [REVOKED: unused]\n"
                f"  revoked {format_expiry(item.when, where)}, {since}")
    link = (f"\n  to keep it, use it or review it: {console_url}/console/keys"
            if console_url else "")
    return (f"- key \"{item.label}\" ({item.detail}) [unused]\n"
            f"  will be revoked {format_expiry(item.when, where)}, "
            f"{relative_time(item.when, now)}, unless it is used before; {since}{link}")


def email_subject(org_name: str, items: list[Item]) -> str:
    expired = sum(1 for i in items if i.window == EXPIRED)
    unused = sum(1 for i in items if i.window == key_policy.UNUSED)
    revoked = sum(1 for i in items if i.window == key_policy.UNUSED_REVOKED)
    soon = len(items) - expired - unused - revoked
    parts = []
    if soon:
        parts.append(f"{soon} expiring soon")
    if expired:
        parts.append(f"{expired} expired")
    if unused:
        parts.append(f"{unused} unused, to be revoked")
    if revoked:
        parts.append(f"{revoked} revoked as unused")
    return f"[{org_name}] Keys and cards: {', '.join(parts)}"


def email_body(org_name: str, items: list[Item], now: datetime, tz_name: str | None,
               org_tz: str, console_url: str = "") -> str:
    expiring = [i for i in items if not i.unused]
    unused = [i for i in items if i.unused]
    lines = ["Hello,", ""]
    if expiring:
        lines += [
            f"In the organization \"{org_name}\" these credentials expire soon or have "
            "expired:",
            "",
            *(_line(item, now, tz_name, org_tz, console_url) for item in expiring),
            "",
            "Extend or replace keys from Settings > Team API keys or from the project's API "
            "keys page; an expired key is refused on every request. Change an expiring card "
            "from Settings > Payment settings > Change credit card.",
            "",
        ]
    if unused:
        lines += [
            f"The organization \"{org_name}\" revokes API keys nobody uses (its key policy, "
            "in Settings). These keys have not been used for a long time:",
            "",
            *(_unused_line(item, now, tz_name, org_tz, console_url) for item in unused),
            "",
            "A revoked key is refused on every request: create a new one if it is still "
            "needed.",
            "",
        ]
    lines.append("You receive this because you created these keys or administer the "
                 "organization.")
    return "\n".join(lines) + "\n"


def item_event(item: Item, now: datetime) -> tuple[str, str, dict[str, object]]:
    """The webhook event of one reminder: its type, its occurrence (the reminder ledger's own
    unique key, so one event per subject and window) and its data (ids and times)."""
    if item.window == key_policy.UNUSED:
        assert item.idle_from is not None and item.revoke_at is not None
        return (events.API_KEY_UNUSED,
                f"{item.kind}:{item.subject_id}:{item.window}:{item.idle_from.isoformat()}",
                {"key_id": item.subject_id, "unused_since": item.idle_from.isoformat(),
                 "revoke_at": item.revoke_at.isoformat(), **item.facts})
    expired = item.window == EXPIRED
    if item.kind == "api_key":
        event_type = events.API_KEY_EXPIRED if expired else events.API_KEY_EXPIRING
        subject = {"key_id": item.subject_id}
    else:
        event_type = (events.PAYMENT_METHOD_UNAVAILABLE if expired
                      else events.PAYMENT_METHOD_EXPIRING)
        subject = {"payment_method_id": item.subject_id}
    occurrence = f"{item.kind}:{item.subject_id}:{item.window}:{item.due_at.isoformat()}"
    data: dict[str, object] = {**subject, "window": item.window,
                               "expires_at": item.due_at.isoformat(),
                               "expired": item.due_at <= now, **item.facts}
    return event_type, occurrence, data
