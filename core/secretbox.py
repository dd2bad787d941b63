"""Sealing secrets that must be kept usable: webhook signing secrets, encrypted at rest.

An API key's secret is only ever compared, so a keyed hash is enough; a webhook signing
secret must be used to sign every delivery, so it has to come back. It is stored sealed with
AES-256-GCM under a key derived from `LIFECYCLE_WEBHOOK_SECRET_KEY`, with the row's id as
associated data: a database dump alone opens nothing, and a sealed value copied onto another
row does not open there either. The plain secret lives only in memory while a delivery is
signed and in the one response that shows it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1:"
NONCE_BYTES = 12


class SealBroken(Exception):
    """A sealed value that does not open under this key (another key, another row, tampered)."""


def _aead(key_material: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"lifecycle-secretbox:" + key_material.encode()).digest())


def seal(key_material: str, plain: str, bound_to: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = _aead(key_material).encrypt(nonce, plain.encode(), bound_to.encode())
    return VERSION + base64.b64encode(nonce + sealed).decode()


def open_sealed(key_material: str, sealed: str, bound_to: str) -> str:
    if not sealed.startswith(VERSION):
        raise SealBroken("unknown sealed format")
    raw = base64.b64decode(sealed.removeprefix(VERSION))
    try:
        plain = _aead(key_material).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                            bound_to.encode())
    except InvalidTag:
        raise SealBroken("the sealed secret does not open under the configured key") from None
    return plain.decode()
