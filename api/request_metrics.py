"""HTTP request count and latency, labelled by method, route template and status.

Why the route template (`/orgs/{org_id}`) and never the raw path: every org, key and project id
in a path would become its own time series, which grows without bound and writes customer
identifiers into the monitoring system. A request that matches no route is labelled
`unmatched`, and an unusual method `other`, for the same reason: a client must not be able to
mint label values.

A plain ASGI middleware rather than `BaseHTTPMiddleware`: it only watches the response's
first message, adds no task per request and does not buffer streamed bodies. It reads the
matched route from the scope after the app ran, where the router left it.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
OTHER_METHOD = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LABELS = ("method", "route", "status")


class RequestMetrics:
    """The two request series of one app, registered in that app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("lifecycle_http_requests", "HTTP requests answered",
                                LABELS, registry=registry)
        self.latency = Histogram("lifecycle_http_request_duration_seconds",
                                 "Time from request to the response's first byte", LABELS,
                                 registry=registry)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


class RequestMetricsMiddleware:
    """Times every HTTP request; a request whose app raised counts as a 500."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        seen = False

        async def watch(message: Message) -> None:
            nonlocal status, seen
            if message["type"] == "http.response.start" and not seen:
                status, seen = message["status"], True
                self.metrics.observe(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not seen:
                self.metrics.observe(scope, status, time.perf_counter() - started)
