"""The API key format: identifiable, checksummed, high-entropy, stored only as a keyed hash.

A key reads `olt_<43 base62 chars><6 base62 checksum>` (team) or `olp_...` (project). The type
prefix tells a human and a secret scanner what it is; the CRC32 checksum lets a scanner reject
noise without a database; 32 random bytes give 256 bits. The database keeps the first
`PREFIX_LEN` characters (to find the row) and HMAC-SHA256(pepper, key) (to check it), so a
database dump alone cannot be turned back into working keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TYPE_PREFIX = {"team": "olt_", "project": "olp_"}
RANDOM_BYTES = 32
RANDOM_LEN = 43  # ceil(256 / log2(62))
CHECKSUM_LEN = 6
PREFIX_LEN = 12  # type prefix + 8 random characters: shown in lists, unique in the table
KEY_LEN = 4 + RANDOM_LEN + CHECKSUM_LEN
# A key wherever it sits in text: the format itself, with no word boundaries, so a key glued to
# other characters (`?k=<key>_x`, `x<key>`) is still found. Group 1 is the public prefix.
KEY_IN_TEXT = re.compile(
    "((?:" + "|".join(re.escape(p) for p in TYPE_PREFIX.values()) + ")"
    f"[{ALPHABET}]{{{PREFIX_LEN - 4}}})[{ALPHABET}]{{{KEY_LEN - PREFIX_LEN}}}")


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LEN)


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: `secret` is shown once to the caller and then forgotten."""

    secret: str
    prefix: str
    secret_hash: bytes


def generate(scope: str, pepper: bytes) -> NewKey:
    body = TYPE_PREFIX[scope] + _base62(int.from_bytes(secrets.token_bytes(RANDOM_BYTES)),
                                        RANDOM_LEN)
    secret = body + _checksum(body)
    return NewKey(secret=secret, prefix=secret[:PREFIX_LEN], secret_hash=hash_key(secret, pepper))


def hash_key(secret: str, pepper: bytes) -> bytes:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).digest()


def scope_of(secret: str) -> str | None:
    """The scope a well-formed key claims, or None for anything that is not one of our keys."""
    if len(secret) != KEY_LEN or any(c not in ALPHABET for c in secret[4:]):
        return None
    body, check = secret[:-CHECKSUM_LEN], secret[-CHECKSUM_LEN:]
    if not hmac.compare_digest(_checksum(body), check):
        return None
    for scope, type_prefix in TYPE_PREFIX.items():
        if secret.startswith(type_prefix):
            return scope
    return None


def matches(secret: str, stored_hash: bytes, pepper: bytes) -> bool:
    """Constant-time comparison of a presented key with the stored hash."""
    return hmac.compare_digest(hash_key(secret, pepper), stored_hash)
