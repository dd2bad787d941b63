"""One teardown is one trace: the API's request span, the client's StartWorkflow span, the
worker's RunWorkflow span and its activities' RunActivity spans share a trace id and chain by
parent. Real app over HTTP (ASGI), real time-skipping Temporal server, real worker; only the
exporter is in memory.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from opentelemetry.trace import SpanKind
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core import tracing
from core.settings import Settings
from core.tracing import traces_url
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    seed_with_keys,
    teardown_status,
)
from tests.support.teardown_support import eventually, teardown_worker
from tests.support.tracing_support import one, spans_in_memory, traced

TEARDOWN = "OrgTeardownWorkflow"


async def test_api_workflow_and_activity_spans_of_a_teardown_form_one_trace(
        time_skipping_env: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator asking for every request header must still not get the bearer key.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    settings = Settings(database_url=postgres_url, data_dir=tmp_path,
                        key_pepper=SecretStr("tracing-test-pepper-0123456789abcdef"))
    org = seed_with_keys(pg_sessions, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    with spans_in_memory() as exporter:
        temporal = traced(time_skipping_env.client)
        async with teardown_worker(temporal, settings, pg_sessions) as queue, \
                api_client(api_settings(settings, task_queue=queue), temporal) as client:
            started = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                        json={"confirm_name": org.org.name,
                                              "grace_seconds": 3600})
            assert started.status_code == 202, started.text
            await eventually(lambda: teardown_status(client, org_id, admin),
                             lambda s: s["status"] == "grace")
            cancelled = await client.post(f"/orgs/{org_id}/teardown/cancel", headers=admin,
                                          json={"reason": "tracing test"})
            assert cancelled.status_code == 200 and cancelled.json()["accepted"]
        spans = list(exporter.get_finished_spans())

    request = one([s for s in spans if s.kind is SpanKind.SERVER
                   and s.attributes is not None
                   and s.attributes.get("http.route") == "/orgs/{org_id}/teardown"
                   and s.name.startswith("POST")], "POST /orgs/{org_id}/teardown")
    start = one(spans, f"StartWorkflow:{TEARDOWN}")
    run = one(spans, f"RunWorkflow:{TEARDOWN}")
    freeze = one(spans, "RunActivity:freeze_org")
    trace_id = request.context.trace_id
    assert {start.context.trace_id, run.context.trace_id, freeze.context.trace_id} == {trace_id}
    assert start.parent is not None and start.parent.span_id == request.context.span_id
    assert run.parent is not None and run.parent.span_id == start.context.span_id
    # the activity hangs under the workflow's StartActivity span, itself in the same trace
    scheduled = one(spans, "StartActivity:freeze_org")
    assert freeze.parent is not None and freeze.parent.span_id == scheduled.context.span_id
    assert scheduled.context.trace_id == trace_id

    # the header was captured (the operator asked for it) and its value sanitised
    assert request.attributes is not None
    assert request.attributes.get("http.request.header.authorization") == ("[REDACTED]",)
    for span in spans:
        for value in (span.attributes or {}).values():
            assert org.admin not in str(value), (span.name, value)


async def test_tracing_is_off_without_an_endpoint(tmp_path: Path) -> None:
    """No endpoint, no provider: the client gets no interceptor, the app no middleware."""
    settings = Settings(data_dir=tmp_path)
    assert tracing.configure_tracing(settings, tracing.SERVICE_API) is None
    assert tracing.temporal_interceptors() == []
    async with api_client(settings) as client:
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        app = transport.app
        assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


def test_traces_url_appends_the_signal_path_once() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("https://c.example/v1/traces") == "https://c.example/v1/traces"
