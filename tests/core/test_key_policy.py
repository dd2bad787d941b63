"""The unused-key policy's rule and its digest wording: pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.digest_text import Item, email_body, email_subject, item_event
from core import key_policy

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(("idle", "expected"), [
    (timedelta(0), None), (22 * DAY, None), (23 * DAY - timedelta(seconds=1), None),
    (23 * DAY, key_policy.UNUSED), (29 * DAY, key_policy.UNUSED),
    (30 * DAY, key_policy.UNUSED_REVOKED), (400 * DAY, key_policy.UNUSED_REVOKED)])
def test_notice_a_week_before_and_revocation_at_the_end(idle: timedelta,
                                                        expected: str | None) -> None:
    assert key_policy.decide(NOW - idle, NOW, 30) == expected


def test_idle_from_the_last_use_else_the_creation() -> None:
    assert key_policy.idle_since(None, NOW) == NOW
    assert key_policy.idle_since(NOW + DAY, NOW) == NOW + DAY


@pytest.mark.parametrize(("days", "ok"), [(None, True), (8, True), (3650, True), (7, False),
                                          (0, False), (-1, False), (3651, False)])
def test_the_range_leaves_room_for_the_notice(days: int | None, ok: bool) -> None:
    assert (key_policy.check_days(days) is None) is ok


def _item(window: str, revoke_at: datetime) -> Item:
    return Item("api_key", "k1", window, NOW - 25 * DAY, "ci", "olt_AbCd, team key",
                {"name": "ci", "prefix": "olt_AbCd", "scope": "team", "project_id": None},
                idle_from=NOW - 25 * DAY, revoke_at=revoke_at)


def test_the_digest_says_when_and_why() -> None:
    notice, revoked = _item(key_policy.UNUSED, NOW + 5 * DAY), _item(
        key_policy.UNUSED_REVOKED, NOW)
    subject = email_subject("Acme", [notice, revoked])
    assert subject == "[Acme] Keys and cards: 1 unused, to be revoked, 1 revoked as unused"
    body = email_body("Acme", [notice, revoked], NOW, "Asia/Taipei", "UTC", "https://c.example")
    assert "expire soon" not in body  # no expiring item: no expiry paragraph
    assert "will be revoked 2027-03-06 12:00 UTC (2027-03-06 20:00 Asia/Taipei" in body
    assert "in 5 days" in body and "[REVOKED: unused]" in body
    assert "https://c.example/console/keys" in body
    event_type, occurrence, data = item_event(notice, NOW)
    assert event_type == "api_key.unused"
    assert occurrence == f"api_key:k1:unused:{(NOW - 25 * DAY).isoformat()}"
    assert data["revoke_at"] == (NOW + 5 * DAY).isoformat() and data["prefix"] == "olt_AbCd"
