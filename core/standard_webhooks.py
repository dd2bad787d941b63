"""Signing webhook deliveries the way the Standard Webhooks specification (v1) says.

Why the specification and not a scheme of our own: receivers verify us with the reference
libraries in any language, and the headers, secret format and rotation rules are ones they
already know. A secret reads `whsec_<base64 of 32 random bytes>`; the signed content is
`<webhook-id>.<webhook-timestamp>.<body>`; `webhook-signature` carries `v1,<base64 HMAC-SHA256>`
once per live secret, space-separated, so during a rotation window a receiver holding either
the old or the new secret accepts the delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def new_secret() -> str:
    """A fresh signing secret, shown to the admin once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of the delivery under `secret`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes
            ) -> dict[str, str]:
    """The three headers of a delivery: one signature per live secret, newest first."""
    if not secrets_:
        raise ValueError("a delivery needs at least one signing secret")
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: " ".join(signature(s, msg_id, timestamp, body) for s in secrets_)}
