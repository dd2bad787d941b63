"""`GET /metrics`: Prometheus text with the API's request metrics and the business counters.

The business counters (teardowns, records purged, reminders sent, keys expired) are counted
from durable records at scrape time (`store.business_totals` says why and from which), so they
live here, in the API every operator already reaches, and not in the worker: each API replica
reports the same all-time values, which survive any restart. Aggregate them across replicas
with `max`, not `sum`. Request metrics are per process, like any Prometheus client's.

Each app has its own registry rather than the library's global one, so tests can build many
apps in one process and a scrape shows only this app's series.

No authentication, deliberately: Prometheus scrapers usually hold no API key, and the page
holds only aggregate counts and route templates; no ids, names, addresses or secrets are ever
label values. If the business totals themselves are sensitive where the API is deployed,
keep `/metrics` off the public ingress (it is not in the OpenAPI document either).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.request_metrics import RequestMetrics, RequestMetricsMiddleware
from core.temporal import short_error
from store.business_totals import TEARDOWN_ACTIONS, business_totals

log = logging.getLogger(__name__)

CHANNELS = ("email", "webhook")  # always shown, so a channel's series exists before its first
UP = "lifecycle_business_metrics_up"

router = APIRouter()


class BusinessCollector(Collector):
    """Reads the business totals on every scrape (three indexed queries, no caching: a cache
    would make replicas disagree for its lifetime and buys little at scrape intervals)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        try:
            with self.sessions() as session:
                totals = business_totals(session)
        except SQLAlchemyError as exc:
            # The request metrics are still worth a scrape when the database is down; the
            # counters are left out (not reported as zero, which would look like a reset).
            log.warning("business metrics unavailable: %s", short_error(exc))
            yield GaugeMetricFamily(UP, "1 when the business counters could be read", 0)
            return
        yield GaugeMetricFamily(UP, "1 when the business counters could be read", 1)
        for outcome in TEARDOWN_ACTIONS.values():
            yield CounterMetricFamily(f"lifecycle_teardowns_{outcome}",
                                      f"Org teardowns {outcome}", totals.teardowns[outcome])
        yield CounterMetricFamily("lifecycle_records_purged",
                                  "Dataset records deleted by teardowns",
                                  totals.records_purged)
        sent = CounterMetricFamily("lifecycle_reminders_sent",
                                   "Key and card expiry reminder digests delivered",
                                   labels=["channel"])
        for channel in sorted({*CHANNELS, *totals.reminders_sent}):
            sent.add_metric([channel], totals.reminders_sent.get(channel, 0))
        yield sent
        yield CounterMetricFamily("lifecycle_keys_expired",
                                  "API keys the sweep found expired and marked",
                                  totals.keys_expired)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    body = await run_in_threadpool(generate_latest, registry)  # the collector blocks on SQL
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, sessions: sessionmaker[Session]) -> None:
    """Give `app` its registry, the request middleware, the business collector and the route."""
    registry = CollectorRegistry()
    registry.register(BusinessCollector(sessions))
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetricsMiddleware, metrics=RequestMetrics(registry))
    app.include_router(router)
