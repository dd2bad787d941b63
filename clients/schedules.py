"""The `key-expiry-sweep` Temporal Schedule: create-or-update, show, pause, unpause, trigger.

Why a Schedule and not a cron workflow: operators can pause, unpause and trigger it, see its
recent and next runs, and Temporal applies the overlap policy (SKIP: a sweep still running
makes the next one skip, the ledger would make a second one harmless anyway but wasteful) and
the catch-up window (a sweep missed while the cluster was down still runs once it is back).

`sync` is idempotent: it creates the schedule, or rewrites its spec, action and policy from
the current settings while keeping its paused state and note, so restarting every worker
is safe and a setting change reaches the schedule on the next start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from contracts.sweep import SweepInput
from core.settings import Settings
from workflows.sweep import KeyExpirySweepWorkflow

log = logging.getLogger(__name__)

SCHEDULE_ID = "key-expiry-sweep"
WORKFLOW_ID = "key-expiry-sweep"  # the schedule appends the scheduled time to it


def sweep_input(settings: Settings) -> SweepInput:
    return SweepInput(windows_days=list(settings.reminder_windows_days),
                      page_size=settings.sweep_page_size,
                      pages_per_run=settings.sweep_pages_per_run)


def build_schedule(settings: Settings, state: ScheduleState | None = None) -> Schedule:
    """The schedule as the settings describe it; `state` carries over pause and note."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            KeyExpirySweepWorkflow.run, sweep_input(settings), id=WORKFLOW_ID,
            task_queue=settings.task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(
            every=timedelta(seconds=settings.sweep_interval_seconds))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP,
                              catchup_window=timedelta(
                                  seconds=settings.sweep_catchup_window_seconds)),
        state=state or ScheduleState(note="reminds owners before API keys and cards expire"),
    )


async def sync(client: Client, settings: Settings) -> str:
    """Create the schedule or bring an existing one in line; returns "created" or "updated"."""
    try:
        await client.create_schedule(SCHEDULE_ID, build_schedule(settings))
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=build_schedule(
            settings, current.description.schedule.state))

    await client.get_schedule_handle(SCHEDULE_ID).update(updater)
    return "updated"


async def ensure_at_worker_start(client: Client, settings: Settings) -> str | None:
    """`sync`, for the worker: a server without schedules (the test server) is logged, not
    fatal, since the worker's first job is to run workflows."""
    if not settings.sweep_schedule_enabled:
        return None
    try:
        outcome = await sync(client, settings)
    except RPCError as exc:
        log.warning("could not ensure schedule %r: %s", SCHEDULE_ID, exc.message)
        return None
    log.info("schedule %r %s (every %ss)", SCHEDULE_ID, outcome,
             settings.sweep_interval_seconds)
    return outcome


@dataclass
class ScheduleView:
    """What `lifecycle schedules show` prints."""

    id: str
    paused: bool
    note: str
    interval_seconds: list[float]
    overlap: str
    catchup_window_seconds: float
    next_runs: list[datetime]
    recent_runs: list[dict[str, Any]]


def _handle(client: Client) -> ScheduleHandle:
    return client.get_schedule_handle(SCHEDULE_ID)


async def show(client: Client) -> ScheduleView:
    desc = await _handle(client).describe()
    sched = desc.schedule
    return ScheduleView(
        id=desc.id, paused=sched.state.paused, note=sched.state.note or "",
        interval_seconds=[i.every.total_seconds() for i in sched.spec.intervals],
        overlap=sched.policy.overlap.name,
        catchup_window_seconds=(sched.policy.catchup_window or timedelta(0)).total_seconds(),
        next_runs=list(desc.info.next_action_times[:3]),
        recent_runs=[{"scheduled_at": a.scheduled_at.isoformat(),
                      "workflow_id": getattr(a.action, "workflow_id", "")}
                     for a in desc.info.recent_actions[-5:]])


async def pause(client: Client, note: str = "paused by operator") -> None:
    await _handle(client).pause(note=note)


async def unpause(client: Client, note: str = "unpaused by operator") -> None:
    await _handle(client).unpause(note=note)


async def trigger(client: Client) -> None:
    """Run a sweep now; the overlap policy still applies (skipped while one is running)."""
    await _handle(client).trigger()
