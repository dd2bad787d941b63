"""A plain route runs its key check, body, answer's validation and commit in one thread-pool
call (`api.one_hop`), with the order of answers and the transaction's rules kept.

Why these: the key check moved from a dependency of its own into the endpoint's call, and
FastAPI refuses a malformed path or body before it calls an endpoint, so without care an
unauthenticated caller would learn about its input (and the throttle would miss its guess);
the commit moved next to the body, where an answer that fails its model must still keep
nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import problems
from api.deps import SessionDep
from api.one_hop import CALLS_AT_ONCE, OneHopRoute
from core import keyformat
from core.problems import NotFound
from core.settings import Settings
from store.auth_failures import AuthFailure
from store.base import utcnow
from store.models import OrgStatus
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    set_status,
)

BAD_PATCH = {"timezone": "Nowhere/Atlantis", "unknown": 1}


def _forged() -> str:
    return keyformat.generate("team", b"another-pepper-entirely-0123456789abcdef").secret


async def test_a_bad_credential_is_answered_before_bad_input(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    frozen = seed_with_keys(session_factory, settings)
    set_status(session_factory, frozen.org.org_id, OrgStatus.FROZEN)
    url = f"/orgs/{org.org.org_id}"
    async with api_client(api_settings(settings)) as client:
        for key in (_forged(), org.revoked, org.expired, "olt_not-a-real-key"):
            problem(await client.patch(url, json=BAD_PATCH, headers=bearer(key)), 401)
        problem(await client.patch(url, json=BAD_PATCH), 401)
        problem(await client.get("/orgs/" + "x" * 65, headers=bearer(_forged())), 401)
        problem(await client.get(f"{url}/keys?limit=0", headers=bearer(org.revoked)), 401)
        problem(await client.patch(f"/orgs/{frozen.org.org_id}", json=BAD_PATCH,
                                   headers=bearer(frozen.admin)), 403, "org-frozen")
        # a good key learns what is wrong with its input
        body = problem(await client.patch(url, json=BAD_PATCH, headers=bearer(org.admin)), 422)
        assert {tuple(err["loc"]) for err in body["errors"]} == {
            ("body", "timezone"), ("body", "unknown")}
        problem(await client.get("/orgs/" + "x" * 65, headers=bearer(org.admin)), 422)


async def test_a_guess_sent_with_bad_input_counts_toward_the_throttle(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    url = f"/orgs/{org.org.org_id}"
    async with api_client(api_settings(settings, auth_failure_limit=3,
                                       auth_failure_window_seconds=600)) as client:
        for _ in range(3):
            problem(await client.patch(url, json=BAD_PATCH, headers=bearer(_forged())), 401)
        problem(await client.get(url, headers=bearer(org.admin)), 429, "too-many-failures")


async def test_an_authenticated_read_makes_one_thread_pool_call(
        session_factory: sessionmaker[Session], settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    org = seed_with_keys(session_factory, settings)
    calls: list[str] = []
    plain = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(func, "__name__", repr(func)))
        return await plain(func, *args, **kwargs)

    async with api_client(api_settings(settings)) as client:
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        for path in (f"/orgs/{org.org.org_id}", f"/orgs/{org.org.org_id}/keys"):
            calls.clear()
            answer = await client.get(path, headers=bearer(org.admin))
            assert answer.status_code == 200, answer.text
            assert len(calls) == 1, calls


class Count(BaseModel):
    n: int


@asynccontextmanager
async def _app(sessions: sessionmaker[Session]) -> AsyncIterator[httpx.AsyncClient]:
    """A bare app whose routes write a row, then answer well, badly or with a problem."""
    router = APIRouter(route_class=OneHopRoute)

    def write(session: Session) -> None:
        session.add(AuthFailure(bucket="one-hop", created_at=utcnow()))
        session.flush()

    @router.post("/fits", response_model=Count)
    def fits(session: SessionDep) -> dict[str, Any]:
        write(session)
        return {"n": 1}

    @router.post("/misfits", response_model=Count)
    def misfits(session: SessionDep) -> dict[str, Any]:
        write(session)
        return {"n": "not a number"}

    @router.post("/refuses", response_model=Count)
    def refuses(session: SessionDep) -> dict[str, Any]:
        write(session)
        raise NotFound("nothing here")

    app = FastAPI()
    app.state.session_factory = sessions
    problems.install(app)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://one-hop.test") as client:
        yield client


def _rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuthFailure)
                                  .where(AuthFailure.bucket == "one-hop")) or 0)


async def test_only_an_answer_that_fits_its_model_commits(
        session_factory: sessionmaker[Session]) -> None:
    async with _app(session_factory) as client:
        problem(await client.post("/misfits"), 500)
        assert _rows(session_factory) == 0
        problem(await client.post("/refuses"), 404)
        assert _rows(session_factory) == 0
        answer = await client.post("/fits")
        assert answer.status_code == 200 and answer.json() == {"n": 1}
        assert _rows(session_factory) == 1


async def test_endpoint_calls_run_a_few_at_once(session_factory: sessionmaker[Session]) -> None:
    """More threads than it takes to overlap database round trips only take turns at the GIL:
    however many requests arrive, at most `CALLS_AT_ONCE` endpoint calls run together."""
    router = APIRouter(route_class=OneHopRoute)
    running = {"now": 0, "most": 0}
    guard = threading.Lock()

    @router.get("/slow")
    def slow() -> dict[str, int]:
        with guard:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.05)
        with guard:
            running["now"] -= 1
        return {"ok": 1}

    app = FastAPI()
    app.state.session_factory = session_factory
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://one-hop.test") as client:
        answers = await asyncio.gather(*(client.get("/slow") for _ in range(3 * CALLS_AT_ONCE)))
    assert all(answer.status_code == 200 for answer in answers)
    assert running["most"] == CALLS_AT_ONCE
