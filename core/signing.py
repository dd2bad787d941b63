"""Signed documents: one canonical JSON form, an Ed25519 signature, keys named by their id.

Why: a deletion certificate is only proof if someone who does not trust our database can check
it. The issuer signs the canonical bytes of the certificate with a private key from settings;
anyone holding the published public keys checks a downloaded file offline. Several public keys
may be trusted at once, so the signing key can rotate while old certificates stay checkable.

The file is itself canonical (sorted keys, no spaces, ASCII only), and `verify` refuses a file
that is not, so any changed byte fails: either the content changed and the signature no longer
matches, or the form changed and the file is no longer the one that was issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "Ed25519"
KEY_BYTES = 32
# The field of a signed payload that names the key; part of what is signed.
KEY_ID_FIELD = "signing_key_id"
DOCUMENT_FIELDS = frozenset({"certificate", "signature"})


class SigningKeyError(ValueError):
    """A configured key is not a base64 Ed25519 key of 32 bytes."""


class SignatureInvalid(Exception):
    """The document does not verify; the message says why, in one line."""


def canonical(value: Any) -> bytes:
    """The one serialisation signed and stored: sorted keys, no whitespace, ASCII escapes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise SigningKeyError("not base64") from None


def _key_bytes(text: str, what: str) -> bytes:
    raw = _b64decode(text)
    if len(raw) != KEY_BYTES:
        raise SigningKeyError(f"{what} must be {KEY_BYTES} bytes in base64, got {len(raw)}")
    return raw


def key_id(public: bytes) -> str:
    """A short name derived from the public key itself: it cannot name the wrong key."""
    return "ed25519-" + hashlib.sha256(public).hexdigest()[:16]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        raw = _key_bytes(text, "an Ed25519 public key")
        return cls(key_id(raw), Ed25519PublicKey.from_public_bytes(raw))

    @property
    def encoded(self) -> str:
        return _b64encode(_raw_public(self.key))

    def published(self) -> dict[str, str]:
        """The entry of the public key set served at the well-known address."""
        return {"key_id": self.key_id, "algorithm": ALGORITHM, "public_key": self.encoded}


@dataclass(frozen=True)
class Signer:
    """The private signing key; `public` is what verifiers need."""

    private: Ed25519PrivateKey

    @classmethod
    def parse(cls, text: str) -> Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(
            _key_bytes(text, "an Ed25519 private key")))

    @property
    def public(self) -> PublicKey:
        raw = _raw_public(self.private.public_key())
        return PublicKey(key_id(raw), self.private.public_key())

    def sign(self, payload: Mapping[str, Any]) -> bytes:
        """The signed document: the payload, with this key's id added, and its signature."""
        body = {**payload, KEY_ID_FIELD: self.public.key_id}
        signature = self.private.sign(canonical(body))
        return canonical({"certificate": body, "signature": _b64encode(signature)})


def generate_private_key() -> str:
    """A new private key in the form the settings take (base64url of the 32-byte seed)."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return _b64encode(Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def key_set(keys: Iterable[PublicKey]) -> dict[str, PublicKey]:
    return {k.key_id: k for k in keys}


def parse_key_set(document: Mapping[str, Any]) -> dict[str, PublicKey]:
    """The public keys of a downloaded key set (`{"keys": [{"public_key": ...}, ...]}`); each
    key's id is derived again from the key, never taken on trust from the file."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise SigningKeyError("a key set needs a list of keys under \"keys\"")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("public_key"), str):
            raise SigningKeyError("every key needs a public_key")
        keys.append(PublicKey.parse(entry["public_key"]))
    return key_set(keys)


def verify(document: bytes, keys: Mapping[str, PublicKey]) -> tuple[dict[str, Any], str]:
    """The signed payload and the id of the key that signed it; `SignatureInvalid` otherwise."""
    if document.endswith(b"\n"):
        document = document[:-1]  # the one newline a download or an editor may add
    try:
        parsed = json.loads(document)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SignatureInvalid("not a JSON document") from None
    if not isinstance(parsed, dict) or set(parsed) != DOCUMENT_FIELDS:
        raise SignatureInvalid("not a signed document: expected certificate and signature")
    body, signature = parsed["certificate"], parsed["signature"]
    if not isinstance(body, dict) or not isinstance(signature, str):
        raise SignatureInvalid("not a signed document: malformed certificate or signature")
    try:
        if canonical(parsed) != document:
            raise SignatureInvalid("the file is not in its canonical form: it was changed")
    except ValueError:
        raise SignatureInvalid("the file holds values outside canonical JSON") from None
    kid = body.get(KEY_ID_FIELD)
    if not isinstance(kid, str):
        raise SignatureInvalid(f"the certificate names no signing key ({KEY_ID_FIELD})")
    key = keys.get(kid)
    if key is None:
        raise SignatureInvalid(f"signed by {kid}, which is not one of the trusted keys")
    try:
        raw = _b64decode(signature)
        # base64 ignores the spare bits of its last character: only the one spelling counts
        if _b64encode(raw) != signature:
            raise InvalidSignature
        key.key.verify(raw, canonical(body))
    except (InvalidSignature, SigningKeyError):
        raise SignatureInvalid(f"the signature does not match the content (key {kid})") from None
    return body, kid
