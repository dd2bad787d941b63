"""Idempotency keys: every side effect of a durable process is keyed by one business reference.

The reference is the id of the workflow doing the work (it names the subscription or the org,
and a retried attempt of that workflow has the same one); the steps say which effect of it this
is. One function and one separator for every key, so keys never collide across step names and
the keys of one reference can be found by their common prefix.
"""

from __future__ import annotations

SEPARATOR = ":"


def idempotency_key(ref: str, *steps: str) -> str:
    """`ref:step:...`, e.g. `idempotency_key("org-teardown-1f2e", "detach-card")`."""
    return SEPARATOR.join((ref, *steps))


def idempotency_prefix(ref: str) -> str:
    """What every key derived from `ref` starts with."""
    return ref + SEPARATOR
