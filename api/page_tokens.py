"""Page tokens of the ops lists: Temporal's opaque token, sealed with an HMAC of the server.

Why sealed: a token that did not come from this API used to go straight to Temporal, which
answers a garbage token with an internal error that the SDK retries for about ten seconds
before the API could say anything (then a 503 blaming an outage). Found by the schemathesis
run at 250 examples per operation. Checking a MAC refuses a forged or mangled token at once
with a 422, and Temporal only ever sees tokens it issued itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from api.problems import InvalidInput
from core.settings import Settings

MAC_BYTES = 16


def _mac(settings: Settings, raw: bytes) -> bytes:
    key = hmac.new(settings.pepper_bytes, b"ops-page-token", hashlib.sha256).digest()
    return hmac.new(key, raw, hashlib.sha256).digest()[:MAC_BYTES]


def seal(settings: Settings, raw: bytes | None) -> str | None:
    if not raw:
        return None
    return base64.urlsafe_b64encode(_mac(settings, raw) + raw).decode()


def unseal(settings: Settings, token: str) -> bytes | None:
    """The raw token, None for no token; a 422 for anything this API did not hand out."""
    if not token:
        return None
    try:
        sealed = base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError):
        sealed = b""
    mac, raw = sealed[:MAC_BYTES], sealed[MAC_BYTES:]
    if not raw or not hmac.compare_digest(mac, _mac(settings, raw)):
        raise InvalidInput("next_page_token is not one this API handed out")
    return raw
