"""Hostile inputs shared by the security tests: card numbers in the shapes that once got through.

Each is a Luhn-valid test card number (never a real one) written the way a client, or someone
probing the API, might send it: JSON unicode escapes, runs of separators, underscores, Unicode
dashes and invisible characters between the groups.
"""

from __future__ import annotations

import json
from typing import Any

VISA, MASTERCARD, STRIPE = "4111111111111111", "5555555555554444", "4242424242424242"
CARD_NUMBERS = [VISA, MASTERCARD, STRIPE]
SHAPES = [
    "4111_1111_1111_1111",
    "4111--1111--1111--1111",
    "4111 / 1111 / 1111 / 1111",
    "5555.5555.5555.4444",
    "4242\u200b4242\u20134242\u00a04242",  # zero-width space, en dash, no-break space
    "card 4111-1111-1111-1111 exp 12/30",
]


def escaped(text: str) -> str:
    """`text` as a JSON string literal where every character is a `\\uXXXX` escape."""
    return '"' + "".join(f"\\u{ord(char):04x}" for char in text) + '"'


def json_with_escaped(body: dict[str, Any], field: str, value: str) -> bytes:
    """`body` as JSON with `field` set to `value` written entirely in unicode escapes."""
    encoded = json.dumps({**body, field: "@@"})
    return encoded.replace('"@@"', escaped(value)).encode()
