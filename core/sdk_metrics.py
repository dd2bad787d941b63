"""The Temporal SDK's own metrics, served by the worker for Prometheus to scrape.

Why the SDK's exporter and not ours: the interesting worker numbers (task slots in use, poll
latency, schedule-to-start and execution latency per activity and workflow type, failures)
are measured inside the SDK's Rust core, which can serve them itself from a `Runtime` built
with a Prometheus bind address. The worker only has to create that runtime and connect its
client with it. The address is a setting and metrics are off when it is empty, because two
workers on one host need different ports and a test worker needs none.
"""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings


class MetricsExporterError(RuntimeError):
    """The metrics port could not be bound; the message names the address (one line)."""


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime that serves SDK metrics on `settings.worker_metrics_address`, or None (off).

    Durations in seconds and `_total` counter names follow Prometheus conventions, so the
    worker's series read like the API's. Creating the runtime binds the port; a port in use
    fails here, at start, rather than silently losing metrics.
    """
    if not settings.worker_metrics_address:
        return None
    prometheus = PrometheusConfig(bind_address=settings.worker_metrics_address,
                                  counters_total_suffix=True, durations_as_seconds=True)
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as exc:  # what the bridge raises for a port in use or a bad host
        raise MetricsExporterError(
            f"worker metrics at {settings.worker_metrics_address}: {exc}") from None
