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
    """32 random bytes, URL-safe, never starting with `-`.

    People paste these into shells (`lifecycle members accept --token ...`), where a leading
    dash reads as an option; one draw in 64 began with one. Drawing again keeps ~255.98 bits.
    """
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


def keyed_hash(pepper: bytes, label: str, secret: str) -> bytes:
    """The HMAC-SHA256 under which a token of kind `label` is stored and looked up."""
    return hmac.new(pepper, f"{label}:{secret}".encode(), hashlib.sha256).digest()
