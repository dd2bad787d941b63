"""`Annotated` dependency aliases, so routes stay one-liners: `def route(session: SessionDep)`.

Everything comes from `app.state`, filled by `create_app`, so a test builds an app with its own
settings and nothing reads process-wide globals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.deliveries import QUEUED
from api.problems import Unavailable
from api.route_marks import reads_state_only, request_session
from api.temporal import TemporalConnection
from core.settings import Settings
from store.webhooks import QUEUED_INFO

# The dependencies that only read `app.state` are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, and a hop there and back costs more than the read itself.


@reads_state_only
async def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


@reads_state_only
async def get_engine(request: Request) -> Engine:
    return cast(Engine, request.app.state.engine)


async def get_temporal_connection(request: Request) -> TemporalConnection:
    return _temporal_connection(request)


def _temporal_connection(request: Request) -> TemporalConnection:
    return cast(TemporalConnection, request.app.state.temporal)


@reads_state_only
async def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The factory itself, for the few dependencies that must run a transaction of their own
    and end it before the route's body runs (see `api.auth.key_principal_committed`)."""
    return _session_factory(request)


def _session_factory(request: Request) -> sessionmaker[Session]:
    # the type as a string: subscripting `sessionmaker` on every request cost a typing lookup
    return cast("sessionmaker[Session]", request.app.state.session_factory)


@request_session
async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: commit when the route returns, roll back when it raises.

    Services take the session and never commit, so a request that fails half-way (a Problem
    raised after some writes) leaves nothing behind. Used with `scope="function"`, so the
    commit happens before the response is sent and a failed commit reaches the client. Nothing
    commits this session early: a route that must end its checks before it waits on a workflow
    runs them in dependencies with transactions of their own (`SessionFactoryDep`).

    An `async def`, so no thread-pool call opens it: a new session does no I/O (it takes a
    connection at its first statement). A `OneHopRoute` commits it in its endpoint's own
    thread call (or, when nothing else needs it, opens and ends it there, `open_session` and
    `end_session`, and this never runs); whatever is still open here is ended in one call of
    its own.
    """
    session = open_session(request)
    try:
        yield session
    except BaseException:
        await _end(session, commit=False)
        raise
    await _end(session, commit=True)
    end_session(request, session)


def open_session(request: Request) -> Session:
    """The request's session: no I/O yet."""
    return _session_factory(request)()


def end_session(request: Request, session: Session) -> None:
    """After the commit: hand over the messages the request queued (webhook events), which
    `api.deliveries.DeliverQueued` starts delivering once the request has answered."""
    setattr(request.state, QUEUED, session.info.pop(QUEUED_INFO, []))


async def _end(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and close `session`; in the thread pool only when a transaction
    is still open (closing an ended session does no I/O)."""
    if not session.in_transaction():
        session.close()
        return

    def end() -> None:
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

    await run_in_threadpool(end)


async def get_temporal_client(request: Request) -> Client:
    try:
        return await _temporal_connection(request).get()
    except ConnectionError as exc:
        raise Unavailable(str(exc)) from exc


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
TemporalConnectionDep = Annotated[TemporalConnection, Depends(get_temporal_connection)]
TemporalClientDep = Annotated[Client, Depends(get_temporal_client)]
