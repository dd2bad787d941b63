"""Structured logs: JSON off a terminal, the workflow/activity/trace context on every line, and
no secret in any line. The worker is tested as the real `lifecycle worker` process whose stderr
is a file (so `auto` must pick JSON), running a teardown started over HTTP on a dev server.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.keyformat import PREFIX_LEN, generate
from core.logs import build_handler, configure_logging, wants_json
from core.ports import free_port
from core.settings import Settings
from tests.chaos.support import WorkerProcess
from tests.support.api_support import (
    OPERATOR_TOKEN,
    api_client,
    api_settings,
    bearer,
    seed_with_keys,
)
from tests.support.api_support import teardown_status as status
from tests.support.chatty_workflow import ChattyWorkflow, chatty_activity
from tests.support.otlp_receiver import otlp_receiver
from tests.support.teardown_support import eventually
from tests.support.tracing_support import spans_in_memory, traced

PEPPER = "logs-test-pepper-" + "9" * 32


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every line as a JSON object; a line that is not one fails the test, naming it."""
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
    return records


def test_auto_format_is_json_off_a_terminal_and_plain_on_one() -> None:
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as tty, os.fdopen(primary, "rb"), \
            open(os.devnull, "w") as not_tty:
        assert not wants_json("auto", tty)
        assert wants_json("auto", not_tty)
        assert wants_json("json", tty)
        assert not wants_json("plain", not_tty)


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, Settings]]:
    """Our JSON handler on the loggers the chatty workflow and activity use."""
    stream = io.StringIO()
    settings = Settings(log_format="json", key_pepper=SecretStr(PEPPER),
                        operator_token=SecretStr(OPERATOR_TOKEN))
    handler = build_handler(settings, stream)
    loggers = [logging.getLogger(name) for name in ("tests.chatty", "temporalio.workflow")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield stream, settings
    for logger in loggers:
        logger.removeHandler(handler)


async def test_workflow_and_activity_lines_carry_their_context_and_mask_secrets(
        time_skipping_env: WorkflowEnvironment, captured: tuple[io.StringIO, Settings]) -> None:
    stream, _ = captured
    secret = generate("team", PEPPER.encode()).secret
    queue, workflow_id = f"logs-{uuid.uuid4().hex[:8]}", f"chatty-{uuid.uuid4().hex[:8]}"
    with spans_in_memory():
        client = traced(time_skipping_env.client)
        with ThreadPoolExecutor(max_workers=2) as pool:
            async with Worker(client, task_queue=queue, workflows=[ChattyWorkflow],
                              activities=[chatty_activity], activity_executor=pool):
                handle = await client.start_workflow(ChattyWorkflow.run, secret,
                                                     id=workflow_id, task_queue=queue)
                assert await handle.result() == "done"
    text = stream.getvalue()
    records = _json_lines(text)
    flow = [r for r in records if r["message"].startswith("workflow starting")]
    act = [r for r in records if r["logger"] == "tests.chatty"]
    assert len(flow) == 1 and len(act) == 1, records
    assert flow[0]["workflow_id"] == workflow_id and flow[0]["run_id"] == handle.result_run_id
    assert flow[0]["workflow_type"] == "ChattyWorkflow"
    assert act[0]["workflow_id"] == workflow_id and act[0]["run_id"] == handle.result_run_id
    assert act[0]["activity"] == "chatty_activity" and act[0]["attempt"] == 1
    assert len(act[0]["trace_id"]) == 32 and len(act[0]["span_id"]) == 16
    # the key the activity leaked is masked to its public prefix, the bearer token too
    assert secret not in text and secret[PREFIX_LEN:] not in text
    assert act[0]["message"].count(secret[:PREFIX_LEN] + "[redacted]") == 1
    assert "Bearer [redacted]" in act[0]["message"]
    units = [r for r in records if r["logger"] == "tests.chatty.unit"]
    assert sorted(r["message"] for r in units) == ["unit 1", "unit 2", "unit 3"]
    assert all(r.get("workflow_id") == workflow_id and r.get("activity") == "chatty_activity"
               and r.get("trace_id") == act[0]["trace_id"] for r in units), units


def test_plain_lines_show_the_context_and_mask_the_process_secrets() -> None:
    stream = io.StringIO()
    settings = Settings(log_format="plain", key_pepper=SecretStr(PEPPER),
                        operator_token=SecretStr(OPERATOR_TOKEN))
    logger = logging.getLogger("tests.plain")
    logger.propagate = False
    logger.addHandler(build_handler(settings, stream))
    try:
        logger.warning("pepper %s token %s", PEPPER, OPERATOR_TOKEN,
                       extra={"temporal_workflow": {"workflow_id": "wf-1", "run_id": "run-1"}})
    finally:
        logger.handlers.clear()
        logger.propagate = True
    line = stream.getvalue().strip()
    assert line.endswith("WARNING tests.plain: pepper [redacted] token [redacted] "
                         "[workflow=wf-1 run=run-1]"), line


def test_configure_logging_leaves_an_embedding_setup_alone() -> None:
    """pytest has its handlers on the root logger: ours must not be added next to them."""
    root = logging.getLogger()
    before = list(root.handlers)
    assert before, "pytest's capture handlers should be installed"
    assert configure_logging(Settings()) is False
    assert root.handlers == before


def test_uvicorn_loggers_follow_the_configured_level() -> None:
    """uvicorn sets INFO on its access logger; at `LIFECYCLE_LOG_LEVEL=WARNING` a request
    must not pay for (or write) an access line."""
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO)
    root.handlers.clear()
    try:
        assert configure_logging(Settings(log_level="WARNING"), io.StringIO()) is True
        assert not access.isEnabledFor(logging.INFO)
        assert access.isEnabledFor(logging.WARNING)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.mark.slow
async def test_worker_process_logs_json_lines_with_activity_context_and_no_secret(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, data_dir=tmp_path,
                        key_pepper=SecretStr(PEPPER))
    org = seed_with_keys(pg_sessions, settings)
    secrets = [org.admin, org.member, org.project, org.expired, org.revoked, PEPPER]
    queue = f"logs-test-{uuid.uuid4().hex[:8]}"
    address = local_temporal.client.service_client.config.target_host
    log_path = tmp_path / "worker.log"
    with otlp_receiver() as collector, spans_in_memory() as api_spans:
        worker = WorkerProcess(postgres_url, address, queue, tmp_path, log_path=log_path,
                               env={"LIFECYCLE_KEY_PEPPER": PEPPER,
                                    "LIFECYCLE_LOG_FORMAT": "auto",
                                    "LIFECYCLE_LOG_LEVEL": "INFO",
                                    "LIFECYCLE_SWEEP_SCHEDULE_ENABLED": "false",
                                    "LIFECYCLE_OTLP_ENDPOINT": collector.url})
        worker.start()
        try:
            async with api_client(api_settings(settings, task_queue=queue),
                                  traced(local_temporal.client)) as client:
                started = await client.post(
                    f"/orgs/{org.org.org_id}/teardown", headers=bearer(org.admin),
                    json={"confirm_name": org.org.name, "grace_seconds": 0})
                assert started.status_code == 202, started.text
                await eventually(lambda: status(client, org.org.org_id, bearer(OPERATOR_TOKEN)),
                                 lambda s: s["status"] == "completed", timeout=90)
        finally:
            worker.stop()  # SIGTERM: a graceful exit, which flushes the span batch
        assert worker.process is not None and worker.process.returncode == 0
        request = next(s for s in api_spans.get_finished_spans()
                       if s.kind is SpanKind.SERVER and s.name.startswith("POST"))

    text = log_path.read_text()
    records = _json_lines(text)
    activity_lines = [r for r in records if r["logger"].startswith("activities.")]
    assert activity_lines, text
    trace_id = f"{request.context.trace_id:032x}"
    for record in activity_lines:
        assert org.org.org_id in record["workflow_id"], record
        assert record["run_id"] and record["activity"] and record["trace_id"] == trace_id, record
    assert {r["activity"] for r in activity_lines} >= {"revoke_api_keys"}
    for secret in secrets:
        assert secret not in text
    # nobody listens for mail here: the notices' deliveries are retried, each failed attempt
    # is one warning line, and an expected retry prints no traceback
    retried = [r for r in records if r["message"].startswith("outbox ")
               and r["level"] == "WARNING"]
    assert retried, text
    assert "Traceback" not in text and not any("exc_info" in r or "exception" in r
                                               for r in records), text
    # the worker's spans reached the collector over OTLP, in the API request's trace
    worker_spans = [span for service, span in collector.spans if service == "lifecycle-worker"]
    assert {s.name for s in worker_spans if s.trace_id.hex() == trace_id} >= {
        "RunWorkflow:OrgTeardownWorkflow", "RunActivity:freeze_org"}


@pytest.mark.slow
async def test_api_process_logs_json_lines_uvicorn_included(tmp_path: Path) -> None:
    """uvicorn's own access and server lines go through our setup too, and a bearer key sent
    by a client appears nowhere."""
    secret = generate("team", PEPPER.encode()).secret
    port = free_port()
    log_path = tmp_path / "api.log"
    env = dict(os.environ, LIFECYCLE_DATA_DIR=str(tmp_path), LIFECYCLE_LOG_FORMAT="auto",
               LIFECYCLE_LOG_LEVEL="INFO", LIFECYCLE_KEY_PEPPER=PEPPER)
    with log_path.open("wb") as log_file:
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                async def probe() -> int:
                    try:
                        return (await client.get("/healthz")).status_code
                    except httpx.TransportError:
                        return 0

                await eventually(probe, lambda code: code == 200)
                # no database here: the request fails after reading the key, and says so
                answered = await client.get("/orgs/x", headers=bearer(secret))
        finally:
            api.terminate()
            api.wait(timeout=30)
    assert answered.status_code == 503
    text = log_path.read_text()
    records = _json_lines(text)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any('"GET /orgs/x HTTP/1.1" 503' in r["message"] for r in access), records
    assert any(r["logger"] == "uvicorn.error" for r in records), records
    assert secret not in text and secret[PREFIX_LEN:] not in text
