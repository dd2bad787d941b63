"""Helpers for trace tests: an in-memory span pipeline made the active one, a traced client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from core import tracing


@contextmanager
def spans_in_memory() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this process, every finished span kept in the yielded exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.activate(provider)
    try:
        yield exporter
    finally:
        tracing.activate(None)
        provider.shutdown()


def traced(client: Client) -> Client:
    """`client` (the test server's) with the interceptors `connect_once` would have added."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], *tracing.temporal_interceptors()]
    return Client(**config)


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted({s.name for s in spans}))
    return found[0]
