"""What a reminder digest says: the email text for one person, and each reminder's webhook event.

Pure functions over plain values, so the wording is tested without a database or a server.
Every expiry is shown in UTC and in the reader's zone with an explicit offset, plus a relative
time, because "expires 2026-03-01" read in Taipei and in New York are different days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


def email_subject(org_name: str, items: list[Item]) -> str:
    expired = sum(1 for i in items if i.window == EXPIRED)
    soon = len(items) - expired
    parts = []
    if soon:
        parts.append(f"{soon} expiring soon")
    if expired:
        parts.append(f"{expired} expired")
    return f"[{org_name}] Keys and cards: {', '.join(parts)}"


def email_body(org_name: str, items: list[Item], now: datetime, tz_name: str | None,
               org_tz: str, console_url: str = "") -> str:
    lines = [
        "Hello,",
        "",
        f"In the organization \"{org_name}\" these credentials expire soon or have expired:",
        "",
        *(_line(item, now, tz_name, org_tz, console_url) for item in items),
        "",
        "Extend or replace keys from Settings > Team API keys or from the project's API keys "
        "page; an expired key is refused on every request. Change an expiring card from "
        "Settings > Payment settings > Change credit card.",
        "",
        "You receive this because you created these keys or administer the organization.",
    ]
    return "\n".join(lines) + "\n"


def item_event(item: Item, now: datetime) -> tuple[str, str, dict[str, object]]:
    """The webhook event of one reminder: its type, its occurrence (the reminder ledger's own
    unique key, so one event per subject and window) and its data (ids and times)."""
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
