"""Security headers on every response of the app: the API's and, with its extras, the console's.

Why on every response and not per route: an answer carrying a key's metadata, a certificate or
an org's settings must never sit in a shared cache or a browser's disk cache, and a route added
tomorrow must not have to remember it. So each response gets

- `Cache-Control: no-store` (unless the route set its own cache policy), so no authenticated
  answer is kept by a proxy or a browser;
- `X-Content-Type-Options: nosniff`, so a JSON body is never run as a script or page;
- `Referrer-Policy: no-referrer`, so a URL holding a token (a sign-in link, a receipt) is never
  sent on to another site;
- `Strict-Transport-Security` when the request came over HTTPS. HTTPS is the request's scheme as
  the server sees it: uvicorn's own TLS, or `X-Forwarded-Proto` from a proxy uvicorn trusts
  (`--forwarded-allow-ips` / `FORWARDED_ALLOW_IPS`, 127.0.0.1 by default). A plain-HTTP
  development stack never gets it, so a browser never pins `localhost` to HTTPS.

Paths under a prefix may add their own headers (the console its content security policy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Header = tuple[bytes, bytes]
HSTS_SECONDS = 365 * 24 * 3600
BASE_HEADERS: list[Header] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
NO_STORE: Header = (b"cache-control", b"no-store")
HSTS: Header = (b"strict-transport-security",
                f"max-age={HSTS_SECONDS}; includeSubDomains".encode())


def headers_for(path: str, https: bool, extras: Mapping[str, Sequence[Header]],
                own: Sequence[Header]) -> list[Header]:
    """The response headers: `own` (the route's) with ours put over them."""
    ours = list(BASE_HEADERS)
    for prefix, added in extras.items():
        if path.startswith(prefix):
            ours.extend(added)
    if https:
        ours.append(HSTS)
    names = {name for name, _ in ours}
    kept = [(k, v) for k, v in own if k.lower() not in names]
    if not any(k.lower() == NO_STORE[0] for k, _ in [*kept, *ours]):
        ours.append(NO_STORE)
    return kept + ours


class SecurityHeaders:
    """ASGI middleware adding `headers_for` to every HTTP response, errors included."""

    def __init__(self, app: ASGIApp, extras: Mapping[str, Sequence[Header]] | None = None
                 ) -> None:
        self.app = app
        self.extras = dict(extras or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = headers_for(path, https, self.extras,
                                                 list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)
