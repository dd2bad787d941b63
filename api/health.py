"""Liveness and readiness probes.

`/healthz` says the process serves HTTP and never touches a dependency, so an orchestrator
does not restart the API because the database blinked. `/readyz` checks each dependency with
a short timeout and reports every one, so an operator sees at once which is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import EngineDep, TemporalConnectionDep
from core.temporal import short_error
from store.db import ping

CHECK_TIMEOUT_S = 2.0

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is down"}})
async def readyz(engine: EngineDep, temporal: TemporalConnectionDep) -> JSONResponse:
    database, temporal_result = await asyncio.gather(
        _check(lambda: asyncio.to_thread(ping, engine)),
        _check(lambda: temporal.check(CHECK_TIMEOUT_S)),
    )
    checks = {"database": database, "temporal": temporal_result}
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


async def _check(probe: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S:.0f}s"}
    except Exception as exc:  # a probe reports any failure; it must never fail itself
        return {"ok": False, "error": short_error(exc)}
    return {"ok": True}
