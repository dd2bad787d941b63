"""The console's browser-facing protections: secrets for cookies and links, CSRF, headers.

Every secret the console hands a browser (a sign-in link token, a session id) is 32 random
bytes, and the database keeps only its HMAC under the server pepper, each kind under its own
label so one can never be replayed as another. CSRF tokens are derived, not stored: a signed-in
browser's token is an HMAC of its session id, a signed-out browser's (the sign-in forms) an
HMAC of a random pre-session cookie, so a page on another site can neither read nor forge one.
"""

from __future__ import annotations

import hmac

from api.problems import NotPermitted
from core.tokens import keyed_hash as keyed_hash  # the console's tokens are these
from core.tokens import new_secret as new_secret

PREFIX = "/console"
SESSION_COOKIE = "olc_session"
PRE_SESSION_COOKIE = "olc_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# No inline script or style anywhere: every script and stylesheet is a file the app serves.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
])
# Added to the app-wide headers (`api.security_headers`: nosniff, no-referrer, HSTS on HTTPS)
# for every response under `/console`: pages, assets and errors. No page or asset is cached
# (no-store even where a route set its own policy): a page shows the org's data.
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class CsrfRefused(NotPermitted):
    slug = "csrf-refused"
    title = "Missing or wrong CSRF token"




def csrf_token(pepper: bytes, binding: str) -> str:
    """The CSRF token for a browser whose session (or pre-session) secret is `binding`."""
    return keyed_hash(pepper, "console-csrf", binding).hex()


def check_csrf(pepper: bytes, binding: str | None, presented: str | None) -> None:
    if not binding or not presented or not hmac.compare_digest(
            csrf_token(pepper, binding), presented):
        raise CsrfRefused("this form was not sent by a console page of this browser's "
                          "session: reload the page and try again")


def cookie_name(base: str, https: bool) -> str:
    """On HTTPS the `__Host-` prefix pins the cookie to this origin (Secure, path /)."""
    return f"__Host-{base}" if https else base
