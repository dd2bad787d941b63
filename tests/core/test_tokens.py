"""Tokens handed to people survive being pasted into a command line."""

from __future__ import annotations

import base64

from core.tokens import new_secret


def test_no_secret_starts_with_a_dash_and_each_holds_32_bytes() -> None:
    drawn = [new_secret() for _ in range(3000)]  # a dash in 1 of 64 would show ~47 times
    assert not [s for s in drawn if s.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(s + "=")) == 32 for s in drawn)
    assert len(set(drawn)) == len(drawn)
