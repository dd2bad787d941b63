"""The worker serves the Temporal SDK's Prometheus metrics when `worker_metrics_address` is set:
a real worker (the `run_worker` of `lifecycle worker`, connecting by address) on the session's
dev server runs a sweep, then its metrics endpoint shows the activities it executed."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from contracts.sweep import SweepInput
from core.ports import free_port
from core.sdk_metrics import metrics_runtime
from core.settings import SettingsError, load_settings
from tests.support.gc_support import restored_gc
from tests.support.teardown_support import eventually
from worker import GC_THRESHOLDS, main, run_worker
from workflows.sweep import KeyExpirySweepWorkflow


async def _scrape(url: str) -> str:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).text
    except httpx.TransportError:
        return ""  # not bound yet


async def test_worker_serves_sdk_metrics_of_the_activities_it_ran(
        local_temporal: WorkflowEnvironment, sqlite_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"127.0.0.1:{free_port()}"
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    for name, value in {
            "DATABASE_URL": sqlite_url, "DATA_DIR": str(tmp_path), "TASK_QUEUE": queue,
            "TEMPORAL_ADDRESS": local_temporal.client.service_client.config.target_host,
            "SWEEP_SCHEDULE_ENABLED": "false", "WORKER_METRICS_ADDRESS": address}.items():
        monkeypatch.setenv(f"LIFECYCLE_{name}", value)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(load_settings(), stop=stop))
    try:
        await local_temporal.client.execute_workflow(
            KeyExpirySweepWorkflow.run, SweepInput(deliver=False),
            id=f"metrics-sweep-{queue}", task_queue=queue)
        text = await eventually(lambda: _scrape(f"http://{address}/metrics"),
                                lambda t: 'activity_type="sweep_claim_keys"' in t, timeout=20)
    finally:
        stop.set()
        await worker
    executed = [line for line in text.splitlines()
                if line.startswith("temporal_activity_execution_latency")
                and 'activity_type="sweep_claim_keys"' in line
                and f'task_queue="{queue}"' in line]
    assert executed, text[:2000]
    assert "temporal_request" in text  # the client's own RPC counters come through too


def test_metrics_are_off_without_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIFECYCLE_WORKER_METRICS_ADDRESS", raising=False)
    assert metrics_runtime(load_settings()) is None


@pytest.mark.parametrize("bad", ["9464", ":9464", "0.0.0.0:", "0.0.0.0:http", "0.0.0.0:70000"])
def test_a_malformed_address_names_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                bad: str) -> None:
    monkeypatch.setenv("LIFECYCLE_WORKER_METRICS_ADDRESS", bad)
    with pytest.raises(SettingsError, match="LIFECYCLE_WORKER_METRICS_ADDRESS"):
        load_settings()


def test_a_busy_metrics_port_stops_the_worker_with_one_line(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        monkeypatch.setenv("LIFECYCLE_DATABASE_URL", sqlite_url)
        monkeypatch.setenv("LIFECYCLE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("LIFECYCLE_WORKER_METRICS_ADDRESS", address)
        with caplog.at_level(logging.ERROR, logger="lifecycle.worker"), restored_gc():
            assert main(load_settings()) == 1
            assert gc.get_threshold() == GC_THRESHOLDS  # the process tunes its collector
    [line] = [r.getMessage() for r in caplog.records if r.name == "lifecycle.worker"]
    assert line.startswith(f"worker metrics at {address}: ") and "in use" in line, line
    assert "\n" not in line
