"""Logs and traces for the API process, installed by the app factory in one call.

Why the request span must be careful: the API's callers authenticate with `Authorization:
Bearer <key>`, and OpenTelemetry's ASGI middleware records any request header an operator
lists in `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST` (`.*` records them all).
The credential headers are therefore always on the middleware's sanitise list, which turns
their values into `[REDACTED]`, whatever else the operator asks to capture or sanitise.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
    get_custom_headers,
)

from core.logs import configure_logging
from core.settings import Settings
from core.tracing import SERVICE_API, configure_tracing

CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie",
                      "x-api-key")
# Probes poll these every few seconds; a trace each would bury the real requests.
UNTRACED_PATHS = "/healthz,/readyz"


def sanitized_headers() -> list[str]:
    """Our credential headers plus whatever the operator asked to sanitise."""
    extra = get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS)
    return [*CREDENTIAL_HEADERS, *extra]


def instrument(app: FastAPI, settings: Settings) -> None:
    """Structured logs (unless the server configured logging) and, when on, request spans."""
    configure_logging(settings)
    provider = configure_tracing(settings, SERVICE_API)
    if provider is None:
        return
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=UNTRACED_PATHS,
        http_capture_headers_sanitize_fields=sanitized_headers(),
        # One span per request, not three: the ASGI send/receive spans say nothing here.
        exclude_spans=["receive", "send"])

