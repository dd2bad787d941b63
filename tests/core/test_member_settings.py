"""The org and member settings read from the environment as documented in docs/settings.md."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.settings import SettingsError, load_settings


def test_invitation_ttl_takes_seconds_or_an_iso_duration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().invitation_ttl == timedelta(days=7)
    monkeypatch.setenv("LIFECYCLE_INVITATION_TTL", "P2D")
    assert load_settings().invitation_ttl == timedelta(days=2)
    monkeypatch.setenv("LIFECYCLE_INVITATION_TTL", "3600")
    assert load_settings().invitation_ttl == timedelta(hours=1)
    monkeypatch.setenv("LIFECYCLE_INVITATION_TTL", "5")  # below a minute
    with pytest.raises(SettingsError, match="LIFECYCLE_INVITATION_TTL"):
        load_settings()


def test_org_signup_is_operator_only_unless_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().org_signup == "operator"
    monkeypatch.setenv("LIFECYCLE_ORG_SIGNUP", "open")
    assert load_settings().org_signup == "open"
    monkeypatch.setenv("LIFECYCLE_ORG_SIGNUP", "everyone")
    with pytest.raises(SettingsError, match="LIFECYCLE_ORG_SIGNUP"):
        load_settings()
