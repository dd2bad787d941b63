"""Spotting a full card number in text, so the product can refuse it before anything is stored.

Secrets are never at rest: only a provider token, brand, last4 and expiry are ever kept. A
client that sends a card number by mistake (in the token field, a name, anywhere) must get a 422
and leave no trace. The text checked is always the decoded value (after JSON escapes, form
encoding and Unicode compatibility forms), never the raw bytes, since `\\u0034\\u0031...` in a
JSON body is the digits `41...` by the time it is stored.

People write card numbers in groups, so digits joined by any run of separators (spaces, `-`,
`_`, `.`, `/`, Unicode dashes and invisible format characters) form one chain; a card number is
any run of whole groups of such a chain holding 13-19 digits that passes the Luhn check. Whole
groups only: a 30-digit id is one group and never a card, while `4111 1111 1111 1111 12/30`
still is. The Luhn check keeps ordinary numbers (dates, amounts) from tripping it most of the
time. The product's own ids and digests (32 or 64 lowercase hex characters, or a UUID with its
dashes, standing alone) are skipped: one id in a few thousand, and one console form token in
about 250, holds a Luhn-valid run of digits, and they sit in every body, form and history;
nobody types a card number into that shape by accident.
"""

from __future__ import annotations

import re
import unicodedata

CARD_NUMBER_MESSAGE = ("a full card number is never accepted: send the payment provider's token "
                       "with brand, last4 and expiry")
MIN_DIGITS, MAX_DIGITS = 13, 19

# Separators people (or an attacker) put between groups: whitespace, ASCII `-_./`, the soft
# hyphen, Unicode dashes and minus signs, and zero-width characters that print as nothing.
SEPARATORS = r"\s\-_./\u00ad\u2010-\u2015\u2212\ufe58\ufe63\uff0d\u200b-\u200f\u2060\ufeff"
_CHAIN = re.compile(rf"\d+(?:[{SEPARATORS}]+\d+)*")
_GROUP = re.compile(r"\d+")
_ID = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{64}|[0-9a-f]{32}"
                 r"|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})(?![0-9A-Za-z])")


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


def _chain_holds_card(groups: list[str]) -> bool:
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                return True
    return False


def contains_card_number(text: str) -> bool:
    """True when `text` (a decoded value) holds something that looks like a full card number."""
    if not any(char.isdigit() for char in text):
        return False
    normal = _ID.sub(" ", unicodedata.normalize("NFKC", text))
    for chain in _CHAIN.finditer(normal):
        if len(chain.group()) >= MIN_DIGITS and _chain_holds_card(_GROUP.findall(chain.group())):
            return True
    return False
