"""Operator controls for the key-expiry sweep: its schedule and the stale-key review list.

The schedule calls are the same functions `lifecycle schedules ...` uses (clients/schedules.py)
so the CLI and the API cannot drift apart; the stale list is the store query in
store/stale_keys.py. Both sit behind the operator credential: they are cross-org.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import OperatorDep
from api.deps import SessionDep, TemporalClientDep
from api.one_hop import OneHopRoute
from api.problems import NotFound, Unauthorized, Unavailable, problem_responses
from clients import schedules
from clients.schedules import ScheduleView
from store.base import utcnow
from store.stale_keys import StaleKey, stale_keys

router = APIRouter(route_class=OneHopRoute, tags=["ops"], prefix="/ops")
ERRORS = problem_responses(Unauthorized, NotFound, Unavailable)


class StaleKeyPage(BaseModel):
    items: list[StaleKey]
    next_cursor: str | None


async def _describe(client: TemporalClientDep) -> ScheduleView:
    try:
        return await schedules.show(client)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"schedule {schedules.SCHEDULE_ID} does not exist: start a worker "
                           "or run `lifecycle schedules sync`") from None
        raise


async def _change(client: Client, change: Callable[[Client], Awaitable[None]]
                  ) -> ScheduleView:
    """Apply `change` to the schedule (a 404 first when it does not exist); its new state."""
    await _describe(client)
    await change(client)
    return await _describe(client)


@router.get("/schedules/key-expiry-sweep", summary="Show the key-expiry sweep schedule",
            response_model=ScheduleView, responses=ERRORS)
async def show_schedule(_: OperatorDep, client: TemporalClientDep) -> ScheduleView:
    return await _describe(client)


@router.post("/schedules/key-expiry-sweep/pause", summary="Pause the key-expiry sweeps",
             response_model=ScheduleView, responses=ERRORS)
async def pause_schedule(_: OperatorDep, client: TemporalClientDep) -> ScheduleView:
    return await _change(client, schedules.pause)


@router.post("/schedules/key-expiry-sweep/unpause", summary="Resume the key-expiry sweeps",
             response_model=ScheduleView, responses=ERRORS)
async def unpause_schedule(_: OperatorDep, client: TemporalClientDep) -> ScheduleView:
    return await _change(client, schedules.unpause)


@router.post("/schedules/key-expiry-sweep/trigger", summary="Run a sweep now",
             description="The overlap policy still applies: skipped while a sweep runs.",
             response_model=ScheduleView, status_code=202, responses=ERRORS)
async def trigger_schedule(_: OperatorDep, client: TemporalClientDep) -> ScheduleView:
    return await _change(client, schedules.trigger)


@router.get("/keys/stale", summary="Live keys unused for N days (for review)",
            response_model=StaleKeyPage, responses=problem_responses(Unauthorized))
def list_stale_keys(_: OperatorDep, session: SessionDep,
                    unused_days: Annotated[int, Query(ge=0, le=3650)] = 90,
                    org_id: Annotated[str | None, Query(pattern="^[0-9a-f]{32}$")] = None,
                    cursor: Annotated[str, Query(pattern="^[0-9a-f]{0,32}$")] = "",
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> StaleKeyPage:
    rows = stale_keys(session, unused_days=unused_days, now=utcnow(), org_id=org_id,
                      after_id=cursor, limit=limit)
    return StaleKeyPage(items=rows, next_cursor=rows[-1].id if len(rows) == limit else None)
