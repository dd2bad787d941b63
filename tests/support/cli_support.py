"""Helpers for CLI tests: a module-wide stack (uvicorn on a real socket, a worker) and a runner.

Why a real socket and not ASGI transport: the CLI is a separate HTTP client with its own
connection handling, timeouts and error mapping; only a listening server exercises those.
The server and the worker run in the test's event loop (they share the Temporal client, which
belongs to that loop); the CLI runs in a thread, as it would in its own process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from core.settings import Settings
from lifecycle.cli import main
from store.db import make_engine, make_session_factory
from tests.support.api_support import api_settings, running_api
from tests.support.teardown_support import teardown_worker


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `lifecycle <argv>` in a thread (the loop keeps serving); exit code, stdout, stderr."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@dataclass(frozen=True)
class Stack:
    """A running API (at `url`) with a worker behind it, on one database, for a test module."""

    url: str
    settings: Settings
    sessions: sessionmaker[Session]
    temporal: Client


@asynccontextmanager
async def cli_stack(temporal: Client, database_url: str, data_dir: Path,
                    **changes: Any) -> AsyncIterator[Stack]:
    """API + worker + database for a whole module: started once, shared by its tests;
    `changes` are more settings (an object store for dataset files).

    Each test seeds its own org, so tests sharing the stack cannot see each other's data.
    """
    settings = Settings(database_url=database_url, data_dir=data_dir,
                        teardown_grace_seconds=3600, purge_batch_size=50, **changes)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        async with teardown_worker(temporal, settings, sessions) as queue, \
                running_api(api_settings(settings, task_queue=queue), temporal) as url:
            yield Stack(url, settings, sessions, temporal)
    finally:
        engine.dispose()
