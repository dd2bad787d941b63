"""Idempotency keys: one separator, and every key of a reference under its prefix."""

from __future__ import annotations

from core.idempotency import idempotency_key, idempotency_prefix


def test_keys_join_the_reference_and_its_steps_with_one_separator() -> None:
    assert idempotency_key("subscription-cancel-5f0c", "cancel") == \
        "subscription-cancel-5f0c:cancel"
    assert idempotency_key("org-teardown-1f2e", "unsubscribe", "9a") == \
        "org-teardown-1f2e:unsubscribe:9a"


def test_every_key_of_a_reference_starts_with_its_prefix() -> None:
    ref = "org-teardown-1f2e"
    prefix = idempotency_prefix(ref)
    assert idempotency_key(ref, "run-1", "requested").startswith(prefix)
    # a reference that merely starts like this one is not under its prefix
    assert not idempotency_key(ref + "0", "run-1", "requested").startswith(prefix)
