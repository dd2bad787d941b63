"""Schemathesis over the app's own OpenAPI: no 5xx, and every response matches its schema.

The app runs under uvicorn on a loopback port with a real database (both kinds) and a real
Temporal dev server (visibility included), so routes that need Temporal answer for real.
Requests carry the seeded org's admin key (the operator token for /ops), and `org_id`,
`project_id` and `dataset_id` are pinned to the seeded org's rows so generated bodies and
queries reach the handlers instead of stopping at "another org" or "not found".
A refused write must leave no trace (bad input gets a 4xx, never a partial write): around every
POST/PUT/PATCH/DELETE the whole database is fingerprinted, and a 4xx answer must leave it
unchanged. GETs are not fingerprinted: they change nothing when they succeed either (the
throttled `last_used_at` aside), and the check doubles the cost of a call.
CI runs 25 examples per operation on PostgreSQL and 10 on SQLite (the same routes and rules;
SQLite's run is there for what only its dialect could get wrong); `LIFECYCLE_FUZZ_EXAMPLES`
raises both for a full run (docs/reliability.md records one).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import hypothesis
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from clients.teardown import start_teardown
from core.ports import free_port
from core.settings import Settings
from services.teardown import recorded_input
from store.models import Dataset
from tests.support.api_support import (
    OPERATOR_TOKEN,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
)
from tests.support.db_snapshot import changed, fingerprint
from tests.support.teardown_support import eventually

if TYPE_CHECKING:
    # The library declares these aliases for type checkers only (they do not exist at run time).
    from schemathesis.specs.openapi.schemas import OpenApiCase, OpenApiOperation

EXAMPLES_PER_OPERATION = int(os.environ.get("LIFECYCLE_FUZZ_EXAMPLES", "25"))
SQLITE_EXAMPLES = max(1, EXAMPLES_PER_OPERATION * 2 // 5)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@contextmanager
def _serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)  # polling for readiness, bounded by the deadline above
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _run_operation(operation: OpenApiOperation, base_url: str,
                   pinned: dict[str, str] | None, headers: dict[str, str],
                   sessions: sessionmaker[Session], examples: int) -> int:
    calls = 0
    guarded = operation.method.upper() in WRITES

    @hypothesis.settings(max_examples=examples, deadline=None,
                         database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=operation.as_strategy(path_parameters=pinned))
    def check(case: OpenApiCase) -> None:
        nonlocal calls
        calls += 1
        before = fingerprint(sessions) if guarded else {}
        response = case.call(base_url=base_url, headers=headers)
        case.validate_response(response, checks=CHECKS)
        if guarded and 400 <= response.status_code < 500:
            tables = changed(before, fingerprint(sessions))
            assert not tables, (f"{case.method} {case.formatted_path} answered "
                                f"{response.status_code} but wrote to {tables}")

    check()
    return calls


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """A records upload as generated: the schema's string as is, anything else as one line."""
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    return (json.dumps(value) + "\n").encode()


def _pins(path: str, ids: dict[str, str]) -> dict[str, str] | None:
    """Path parameters fixed to the seeded org's rows, so generated input reaches the handlers
    instead of stopping at "not found"."""
    pinned = {name: value for name, value in ids.items() if "{" + name + "}" in path}
    return pinned or None


def _fuzz(app: FastAPI, base_url: str, ids: dict[str, str], admin_key: str,
          sessions: sessionmaker[Session], examples: int) -> int:
    schema = schemathesis.openapi.from_dict(app.openapi())
    calls = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        pinned = _pins(operation.path, ids)
        headers = bearer(OPERATOR_TOKEN if operation.path.startswith("/ops") else admin_key)
        calls += _run_operation(operation, base_url, pinned, headers, sessions, examples)
    return calls


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
        local_temporal: WorkflowEnvironment, session_factory: sessionmaker[Session],
        files_settings: Settings) -> None:
    settings = files_settings  # dataset files on, in a real object store
    org = seed_with_keys(session_factory, settings)
    project_id = org.org.project_ids[0]
    with session_factory() as session:
        dataset_id = session.scalars(select(Dataset.id).where(
            Dataset.project_id == project_id)).first()
    assert dataset_id is not None
    ids = {"org_id": org.org.org_id, "project_id": project_id, "dataset_id": dataset_id}
    target = local_temporal.client.service_client.config.target_host
    # no worker runs here: durable calls answer 202 (pending) after a short wait
    app = create_app(api_settings(settings, temporal_address=target,
                                  api_workflow_wait_seconds=0.2))
    sqlite = settings.database_url.startswith("sqlite")
    examples = SQLITE_EXAMPLES if sqlite else EXAMPLES_PER_OPERATION
    try:
        with _serve(app) as base_url:
            started = time.monotonic()
            calls = await asyncio.to_thread(_fuzz, app, base_url, ids, org.admin,
                                            session_factory, examples)
    finally:
        app.state.engine.dispose()
    print(f"schemathesis: {calls} calls at {examples} examples per operation "
          f"on {settings.database_url.split(':', 1)[0]}, {time.monotonic() - started:.0f}s")
    assert calls >= 36 * 3


async def test_ops_lists_workflows_by_type_status_and_org(
        local_temporal: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    """Visibility needs the dev server: the time-skipping server has no list API."""
    org = seed_with_keys(session_factory, settings)
    other = seed_with_keys(session_factory, settings)
    client = local_temporal.client
    queue = f"no-worker-{org.org.org_id[:8]}"  # nothing runs them: they just exist
    handles = [await start_teardown(client, settings, recorded_input(
        settings, o.org.org_id, "member:x", 3600), queue) for o in (org, other)]
    operator = bearer(OPERATOR_TOKEN)
    try:
        async with api_client(api_settings(settings), client) as api:
            listed = await eventually(
                lambda: api.get("/ops/workflows", headers=operator, params={
                    "type": "OrgTeardownWorkflow", "status": "running",
                    "org_id": org.org.org_id}),
                lambda r: r.status_code != 200 or len(r.json()["items"]) == 1)
            none = await api.get("/ops/workflows", headers=operator, params={
                "type": "OrgTeardownWorkflow", "status": "completed",
                "org_id": org.org.org_id})
            injected = await api.get("/ops/workflows", headers=operator,
                                     params={"org_id": "x' OR WorkflowId != '"})
            detail = await api.get(f"/ops/workflows/{handles[0].id}", headers=operator)
    finally:
        for handle in handles:
            await handle.terminate("test over")
    assert listed.status_code == 200, listed.text
    item = listed.json()["items"][0]
    assert item["workflow_id"] == f"org-teardown-{org.org.org_id}"
    assert item["type"] == "OrgTeardownWorkflow" and item["status"] == "running"
    assert item["ui_url"] == (f"http://127.0.0.1:{settings.temporal_ui_port}/namespaces/"
                              f"default/workflows/org-teardown-{org.org.org_id}")
    assert none.status_code == 200 and none.json()["items"] == []
    problem(injected, 422)
    assert detail.status_code == 200 and detail.json()["status"] == "running"
    assert detail.json()["progress"] is None  # no worker answers the query: none, promptly


async def test_ops_refuses_a_forged_page_token_with_422(
        local_temporal: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    """Found by the large fuzz run: a page token Temporal cannot parse was answered 503
    ("Temporal: something went wrong") after ~10 s of SDK retries, blaming an outage for the
    client's bad input. Tokens are sealed now: a forged one never reaches Temporal."""
    operator = bearer(OPERATOR_TOKEN)
    async with api_client(api_settings(settings), local_temporal.client) as api:
        listed = await api.get("/ops/workflows", headers=operator,
                               params={"status": "running", "next_page_token": "AAAA"})
    problem(listed, 422, "invalid-input")
