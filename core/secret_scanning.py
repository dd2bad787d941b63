"""Verifying a secret-scanning partner's request: ECDSA P-256 over the raw body.

A scanner (GitHub's partner programme) that finds one of our keys in public code POSTs the
findings signed with one of its keys: `GITHUB-PUBLIC-KEY-IDENTIFIER` names the key and
`GITHUB-PUBLIC-KEY-SIGNATURE` carries the base64 of a DER-encoded ECDSA (P-256, SHA-256)
signature over the body exactly as received. The public keys come from the settings (PEM by
id): nothing is fetched at run time, so a compromised network path cannot swap them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

KEY_ID_HEADER = "GITHUB-PUBLIC-KEY-IDENTIFIER"
SIGNATURE_HEADER = "GITHUB-PUBLIC-KEY-SIGNATURE"


def load_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from PEM; ValueError for anything else (checked at start-up)."""
    try:
        key = load_pem_public_key(pem.encode())
    except UnsupportedAlgorithm as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return key


def verify(public_keys: Mapping[str, str], key_id: str | None, signature: str | None,
           body: bytes) -> bool:
    """Whether `signature` (base64 DER) signs `body` under the configured key `key_id`."""
    pem = public_keys.get(key_id or "")
    if pem is None or not signature:
        return False
    try:
        der = base64.b64decode(signature, validate=True)
        load_public_key(pem).verify(der, body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
