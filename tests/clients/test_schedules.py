"""The `key-expiry-sweep` schedule on a real Temporal dev server (the time-skipping test server
has no schedules): sync, pause/unpause/trigger, the CLI, and the worker ensuring it at start."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleOverlapPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from clients import schedules
from core.settings import Settings
from lifecycle import schedules_cli
from lifecycle.cli import main as cli_main
from tests.support.teardown_support import eventually
from worker import run_worker


@pytest.fixture
def dev_env(local_temporal: WorkflowEnvironment) -> WorkflowEnvironment:
    """The session's dev server (tests/conftest.py); this module's tests clean up after them."""
    return local_temporal


@pytest.fixture
async def client(dev_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    """The dev server's client, with no sweep schedule before and after the test: a worker
    started by an earlier test on the same server ensures the schedule at its start."""
    await _delete_schedule(dev_env.client)
    yield dev_env.client
    await _delete_schedule(dev_env.client)


async def _delete_schedule(client: Client) -> None:
    with contextlib.suppress(RPCError):  # the test deleted it or nobody made it
        await client.get_schedule_handle(schedules.SCHEDULE_ID).delete()


def _settings(sqlite_url: str, tmp_path: Path, **kw: object) -> Settings:
    base = Settings(database_url=sqlite_url, data_dir=tmp_path,
                    task_queue=f"sched-{uuid.uuid4().hex[:8]}", sweep_interval_seconds=600,
                    sweep_catchup_window_seconds=7200)
    return base.model_copy(update=kw)


async def test_sync_is_idempotent_and_keeps_an_operators_pause(
        client: Client, sqlite_url: str, tmp_path: Path) -> None:
    settings = _settings(sqlite_url, tmp_path)
    assert await schedules.sync(client, settings) == "created"
    view = await schedules.show(client)
    assert view.interval_seconds == [600.0] and view.overlap == "SKIP"
    assert view.catchup_window_seconds == 7200.0 and not view.paused
    assert len(view.next_runs) >= 1

    await schedules.pause(client, "maintenance")
    changed = settings.model_copy(update={"sweep_interval_seconds": 900,
                                          "reminder_windows_days": [14, 3]})
    assert await schedules.sync(client, changed) == "updated"
    assert await schedules.sync(client, changed) == "updated"  # again: same result
    desc = await client.get_schedule_handle(schedules.SCHEDULE_ID).describe()
    assert desc.schedule.state.paused and desc.schedule.state.note == "maintenance"
    assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(seconds=900)]
    assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    action = desc.schedule.action
    assert getattr(action, "workflow", None) == "KeyExpirySweepWorkflow"
    assert getattr(action, "task_queue", None) == settings.task_queue

    await schedules.unpause(client)
    assert not (await schedules.show(client)).paused


async def test_worker_start_ensures_the_schedule_and_a_trigger_runs_a_sweep(
        client: Client, sqlite_url: str, tmp_path: Path) -> None:
    settings = _settings(sqlite_url, tmp_path)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, client=client, stop=stop))
    try:
        async def describe() -> object:
            try:
                return await schedules.show(client)
            except RPCError:
                return None

        view = await eventually(describe, lambda v: v is not None, timeout=20)
        assert isinstance(view, schedules.ScheduleView)
        assert view.interval_seconds == [600.0] and view.overlap == "SKIP"

        await schedules.trigger(client)

        async def finished_sweeps() -> int:
            count = 0
            async for wf in client.list_workflows(
                    "WorkflowType = 'KeyExpirySweepWorkflow' AND "
                    f"TaskQueue = '{settings.task_queue}' AND ExecutionStatus = 'Completed'"):
                count += wf.id.startswith(schedules.WORKFLOW_ID)
            return count

        assert await eventually(finished_sweeps, lambda n: n >= 1, timeout=30) == 1
    finally:
        stop.set()
        await worker


def test_cli_schedules_commands(dev_env: WorkflowEnvironment, sqlite_url: str,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LIFECYCLE_TEMPORAL_ADDRESS", dev_env.client.service_client.config
                       .target_host)
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LIFECYCLE_SWEEP_INTERVAL_SECONDS", "1800")
    address = dev_env.client.service_client.config.target_host
    asyncio.run(_delete(address, missing_ok=True))  # as the `client` fixture does
    try:
        assert cli_main(["schedules", "sync"]) == 0
        assert cli_main(["schedules", "pause", "--note", "audit"]) == 0
        assert cli_main(["schedules", "show"]) == 0
        out = capsys.readouterr().out
        assert "schedule key-expiry-sweep created" in out
        assert "schedule key-expiry-sweep paused" in out
        assert '"paused": true' in out and '"interval_seconds": [\n    1800.0' in out
        assert cli_main(["schedules", "unpause"]) == 0
        assert cli_main(["schedules", "trigger"]) == 0
    finally:
        assert cli_main(["schedules", "pause"]) == 0  # nothing polls this queue; stop it
        asyncio.run(_delete(address))
    monkeypatch.setenv("LIFECYCLE_TEMPORAL_ADDRESS", "127.0.0.1:1")
    monkeypatch.setattr(schedules_cli, "CONNECT_DEADLINE_S", 0.5)  # fail fast, same path
    assert cli_main(["schedules", "show"]) == 1
    assert "lifecycle schedules:" in capsys.readouterr().err


async def _delete(address: str, *, missing_ok: bool = False) -> None:
    """Delete the schedule through a client of this event loop's own (the CLI test is sync)."""
    client = await Client.connect(address)
    if missing_ok:
        await _delete_schedule(client)
    else:
        await client.get_schedule_handle(schedules.SCHEDULE_ID).delete()
