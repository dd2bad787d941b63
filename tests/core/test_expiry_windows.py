"""Window decisions, expiry wording, signatures, settings and the stale-key list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from activities.channels import message_id
from activities.delivery import batch_of
from activities.digest_text import Item, email_body, email_subject, item_event
from activities.digests import batch_key
from core.expiry_windows import (
    Decision,
    card_due_at,
    card_expired,
    decide,
    format_expiry,
    month_index,
    relative_time,
    zone,
)
from core.settings import Settings, SettingsError, load_settings
from store.stale_keys import stale_keys
from tests.support.sweep_support import add_key, make_org

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
W = [30, 7, 1]


@pytest.mark.parametrize(("left", "expected"), [
    (timedelta(days=40), Decision(None, ())),
    (timedelta(days=30, seconds=1), Decision(None, ())),
    (timedelta(days=30), Decision("30d", ())),  # "at or below" the window
    (timedelta(days=12), Decision("30d", ())),
    (timedelta(days=5), Decision("7d", ("30d",))),  # created 5 days before expiry
    (timedelta(hours=2), Decision("1d", ("30d", "7d"))),
    (timedelta(0), Decision("expired", ("30d", "7d", "1d"))),
    (-timedelta(days=3), Decision("expired", ("30d", "7d", "1d"))),
])
def test_decide_sends_the_closest_passed_window(left: timedelta, expected: Decision) -> None:
    assert decide(NOW + left, NOW, W) == expected
    assert decide(NOW + left, NOW, [1, 30, 7]) == expected  # order of the setting is irrelevant


def test_relative_time_and_explicit_offsets() -> None:
    assert relative_time(NOW + timedelta(days=6, hours=5), NOW) == "in 6 days"
    assert relative_time(NOW + timedelta(days=1), NOW) == "in 1 day"
    assert relative_time(NOW + timedelta(hours=23, minutes=59), NOW) == "in 23 hours"
    assert relative_time(NOW + timedelta(minutes=1), NOW) == "in 1 minute"
    assert relative_time(NOW - timedelta(days=2, hours=1), NOW) == "expired 2 days ago"
    assert format_expiry(NOW, zone("America/New_York")) == (
        "2027-03-01 12:00 UTC (2027-03-01 07:00 America/New_York, UTC-05:00)")
    assert format_expiry(NOW, zone("Asia/Kolkata")).endswith("17:30 Asia/Kolkata, UTC+05:30)")
    # a broken zone in a profile falls back to the org's, then to UTC
    assert zone("Mars/Olympus", "Europe/Berlin").key == "Europe/Berlin"
    assert zone("", "nope").key == "UTC"


def test_card_validity_ends_after_its_expiry_month() -> None:
    assert card_due_at(2027, 3) == datetime(2027, 4, 1, tzinfo=UTC)
    assert card_due_at(2027, 12) == datetime(2028, 1, 1, tzinfo=UTC)
    # the SQL filter `exp_year*12 + exp_month < month_index(t)` agrees with card_due_at <= t
    for t in [datetime(2027, 4, 1, tzinfo=UTC), datetime(2027, 3, 31, 23, tzinfo=UTC)]:
        for year, month in [(2027, 2), (2027, 3), (2027, 4), (2026, 12)]:
            assert (year * 12 + month < month_index(t)) == (card_due_at(year, month) <= t)


def test_a_card_is_expired_from_the_first_instant_after_its_expiry_month() -> None:
    assert not card_expired(2027, 3, datetime(2027, 3, 31, 23, 59, tzinfo=UTC))
    assert card_expired(2027, 3, datetime(2027, 4, 1, tzinfo=UTC))
    assert card_expired(2026, 12, datetime(2027, 1, 1, tzinfo=UTC))
    assert not card_expired(2027, 12, datetime(2027, 12, 31, tzinfo=UTC))


def test_reminder_events_message_id_and_batch_keys() -> None:
    item = Item("api_key", "k1", "7d", NOW + timedelta(days=5), "ci", "olt_x, team key",
                {"prefix": "olt_x"})
    event_type, occurrence, data = item_event(item, NOW)
    assert event_type == "api_key.expiring"
    assert occurrence == "api_key:k1:7d:2027-03-06T12:00:00+00:00"
    assert data == {"key_id": "k1", "window": "7d", "expires_at": "2027-03-06T12:00:00+00:00",
                    "expired": False, "prefix": "olt_x"}
    assert item_event(Item("card", "c1", "expired", NOW, "visa ending 4242", "", {}), NOW
                      )[0] == "payment_method.unavailable"


def test_each_reminder_links_to_its_fix_in_the_console() -> None:
    key = Item("api_key", "k1", "7d", NOW + timedelta(days=5), "ci", "olt_x, team key", {})
    card = Item("card", "c1", "30d", NOW + timedelta(days=20), "visa ending 4242", "", {})
    body = email_body("Acme", [key, card], NOW, None, "UTC", "https://console.example.com")
    assert "  extend it: https://console.example.com/console/keys?extend=k1\n" in body
    assert "  change it: https://console.example.com/console/settings#payment\n" in body
    assert "http" not in email_body("Acme", [key], NOW, None, "UTC")  # no address: no link


def test_message_ids_and_batch_keys() -> None:
    assert message_id("kx:ab:org:cd:email:ef", "reminders@example.com") == (
        "<kx.ab.org.cd.email.ef@example.com>")
    key = batch_key("sweep-1/run", "org1", [3, 1, 2])
    assert key == batch_key("sweep-1/run", "org1", [1, 2, 3])  # deterministic per claim set
    assert key != batch_key("sweep-1/run", "org1", [1, 2])
    assert batch_of(f"{key}:email:abc") == batch_of(f"{key}:webhook") == key
    assert batch_of("org-teardown-x:completed") is None
    assert email_subject("Acme", []) == "[Acme] Keys and cards: "


def test_reminder_windows_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECYCLE_REMINDER_WINDOWS_DAYS", "[1, 14]")
    assert load_settings().reminder_windows_days == [14, 1]
    monkeypatch.setenv("LIFECYCLE_REMINDER_WINDOWS_DAYS", "[7, 7]")
    with pytest.raises(SettingsError, match="LIFECYCLE_REMINDER_WINDOWS_DAYS"):
        load_settings()
    monkeypatch.delenv("LIFECYCLE_REMINDER_WINDOWS_DAYS")
    assert Settings().sweep_interval_seconds == 3600


def test_stale_keys_lists_live_keys_unused_for_n_days(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    from sqlalchemy import update

    from store.models import ApiKey

    org, other = make_org(session_factory, settings), make_org(session_factory, settings)
    later = NOW + timedelta(days=100)
    used_recently = add_key(session_factory, org, later, name="busy")
    used_long_ago = add_key(session_factory, org, later, name="idle")
    never_used_old = add_key(session_factory, org, later, name="forgotten")
    never_used_new = add_key(session_factory, org, later, name="new")
    expired = add_key(session_factory, org, NOW - timedelta(days=1), name="expired")
    elsewhere = add_key(session_factory, other, later, name="other-org")
    with session_factory.begin() as session:
        for key_id, used, created in [
                (used_recently, NOW - timedelta(days=2), NOW - timedelta(days=200)),
                (used_long_ago, NOW - timedelta(days=120), NOW - timedelta(days=200)),
                (never_used_old, None, NOW - timedelta(days=91)),
                (never_used_new, None, NOW - timedelta(days=3)),
                (expired, None, NOW - timedelta(days=300)),
                (elsewhere, None, NOW - timedelta(days=300))]:
            session.execute(update(ApiKey).where(ApiKey.id == key_id)
                            .values(last_used_at=used, created_at=created))
    with session_factory() as session:
        mine = stale_keys(session, unused_days=90, now=NOW, org_id=org.id)
        everyone = stale_keys(session, unused_days=90, now=NOW)
        page = stale_keys(session, unused_days=90, now=NOW, limit=1)
        rest = stale_keys(session, unused_days=90, now=NOW, after_id=page[0].id)
    assert sorted(k.name for k in mine) == ["forgotten", "idle"]
    assert sorted(k.name for k in everyone) == ["forgotten", "idle", "other-org"]
    assert [k.id for k in page + rest] == sorted(k.id for k in everyone)
    with pytest.raises(ValueError), session_factory() as session:
        stale_keys(session, unused_days=-1, now=NOW)
