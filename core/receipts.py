"""Certificate receipts: a bearer token that lets whoever started a teardown read its result.

Why: the teardown revokes every key of the org, the admin's too, so without this only an
operator could read the deletion certificate of a teardown the admin ran. The receipt is
handed out once, in the answer to the start, and is good for one org's certificate and
nothing else, until it expires. It is stateless (an HMAC with the server's key pepper over the
org id and the expiry), so nothing about it has to outlive the org in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "olc_"


def _mac(org_id: str, expires_at: int, pepper: bytes) -> str:
    digest = hmac.new(pepper, f"certificate-receipt|{org_id}|{expires_at}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_receipt(org_id: str, expires_at: int, pepper: bytes) -> str:
    """A receipt for `org_id`'s certificate valid until `expires_at` (Unix seconds)."""
    return f"{PREFIX}{org_id}.{expires_at}.{_mac(org_id, expires_at, pepper)}"


def receipt_org(token: str, pepper: bytes, now: int) -> str | None:
    """The org a genuine, unexpired receipt is for; None for anything else."""
    if not token.startswith(PREFIX):
        return None
    parts = token[len(PREFIX):].split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    org_id, expires, mac = parts[0], int(parts[1]), parts[2]
    if not hmac.compare_digest(_mac(org_id, expires, pepper), mac) or expires < now:
        return None
    return org_id
