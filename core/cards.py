"""Spotting a full card number in text, so the API can refuse it before anything is stored.

Secrets are never at rest: only a provider token, brand, last4 and expiry are ever kept. A
client that sends a card number by mistake (in the token field, a name, anywhere) must get a 422
and leave no trace, so the whole request body is scanned, not just the fields we expect. A run
of 13-19 digits (spaces or dashes allowed between them) that passes the Luhn check is taken for
a card number; the Luhn check keeps ordinary long numbers (ids, timestamps) from tripping it
most of the time.
"""

from __future__ import annotations

import re

CARD_NUMBER_MESSAGE = ("a full card number is never accepted: send the payment provider's token "
                       "with brand, last4 and expiry")

# 13-19 digits, optionally separated by single spaces or dashes, not glued to more digits.
_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True when `text` holds something that looks like a full payment card number."""
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False
