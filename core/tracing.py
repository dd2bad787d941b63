"""Traces across API -> workflow -> activities, exported by OTLP over HTTP when asked for.

Tracing is on in a process only when `LIFECYCLE_OTLP_ENDPOINT` is set (the collector's base
URL, e.g. `http://otel-collector:4318`; spans go to `<endpoint>/v1/traces`). Off, nothing is
installed: no provider, no Temporal interceptor, no HTTP middleware, so a process without a
collector pays nothing and its workflows run exactly the code they ran before.

On, Temporal's `TracingInterceptor` goes on every client this process connects
(`core.temporal.connect_once`), and a client's interceptor also serves the workers built
on it: the API's `StartWorkflow` span travels in the workflow's headers to the worker's
`RunWorkflow`, `StartActivity` and `RunActivity` spans, so one teardown is one trace. Inside
the workflow sandbox only the interceptor makes spans (through its replay-aware externs);
workflow code itself never touches OpenTelemetry.

Why the provider lives here and not only in OpenTelemetry's global: the global can be set once
per process, and tests swap an in-memory exporter in and out around a single test with
`activate`. The interceptor and the FastAPI instrumentation both take it from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from temporalio.client import Interceptor

# The SDK, the exporter and Temporal's contrib module are imported only when tracing is on:
# together they add ~0.2 s to every start of the CLI, which mostly runs with tracing off.

SERVICE_API = "lifecycle-api"
SERVICE_WORKER = "lifecycle-worker"
TRACER_NAME = "lifecycle"
TRACES_PATH = "/v1/traces"

_active: TracerProvider | None = None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector's base URL (a full traces URL is kept)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def configure_tracing(settings: Settings, service: str) -> TracerProvider | None:
    """Turn tracing on for this process when an endpoint is set; the active provider or None.

    Idempotent: the first provider stays (the API builds an app per factory call, and the
    span pipeline must not be doubled). Spans are batched; the SDK flushes the batch when the
    process exits. The exporter also reads the standard `OTEL_EXPORTER_OTLP_HEADERS`,
    `_TIMEOUT`, `_COMPRESSION` and `_CERTIFICATE` variables (an authenticated collector);
    the sampler follows `OTEL_TRACES_SAMPLER` (default: parent-based, always on).
    """
    if _active is not None or not settings.otlp_endpoint:
        return _active
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint))))
    trace.set_tracer_provider(provider)  # for any library instrumentation that asks globally
    activate(provider)
    return provider


def activate(provider: TracerProvider | None) -> None:
    """Make `provider` the one our interceptor and instrumentation use (None: tracing off).

    Production goes through `configure_tracing`; tests call this with an in-memory exporter's
    provider and reset it to None afterwards.
    """
    global _active
    _active = provider


def temporal_interceptors() -> list[Interceptor]:
    """What `Client.connect` should carry: the tracing interceptor when tracing is on."""
    if _active is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(_active.get_tracer(TRACER_NAME))]
