"""Single-use secrets handed to people (sign-in links, invitations) and how they are kept.

A token is 32 random bytes (256 bits), URL-safe; the database keeps only its HMAC under the
server pepper, each kind under its own label, so a dump opens nothing and a token of one kind
can never be replayed as another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """32 random bytes (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


def keyed_hash(pepper: bytes, label: str, secret: str) -> bytes:
    """The HMAC-SHA256 under which a token of kind `label` is stored and looked up."""
    return hmac.new(pepper, f"{label}:{secret}".encode(), hashlib.sha256).digest()
