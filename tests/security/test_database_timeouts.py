"""A database that hangs gets a 503 within a bound, not a request that waits forever.

Why: with no connect or statement timeout, a PostgreSQL that accepts connections but never
answers, or a lock held by someone else, kept every request (and its worker thread) waiting.
Real PostgreSQL, real app: a table locked by another connection, and a listener that never
answers the startup packet.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys

# How long the test waits before calling the request hung: far above the timeouts below,
# far below "forever".
HUNG_AFTER_S = 60


async def _answer(client: httpx.AsyncClient, url: str, secret: str) -> httpx.Response:
    return await asyncio.wait_for(client.get(url, headers=bearer(secret)), HUNG_AFTER_S)


async def test_a_table_locked_by_another_connection_is_a_503(
        pg_sessions: sessionmaker[Session], postgres_url: str, settings: Settings) -> None:
    pg = settings.model_copy(update={"database_url": postgres_url})
    org = seed_with_keys(pg_sessions, pg)
    tight = api_settings(pg, database_statement_timeout_seconds=1)
    with pg_sessions() as holder:
        holder.execute(text("LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE"))
        async with api_client(tight) as client:
            refused = await _answer(client, f"/orgs/{org.org.org_id}", org.admin)
        holder.rollback()
    problem(refused, 503, "unavailable")
    async with api_client(tight) as client:  # and it answers again once the lock is gone
        assert (await _answer(client, f"/orgs/{org.org.org_id}", org.admin)).status_code == 200


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


async def test_a_database_that_never_answers_is_a_503(
        silent_port: int, postgres_url: str, settings: Settings) -> None:
    url = make_url(postgres_url).set(host="127.0.0.1", port=silent_port,
                                     query={"sslmode": "disable"})
    silent = api_settings(settings, database_url=url.render_as_string(hide_password=False),
                          database_connect_timeout_seconds=2)
    async with api_client(silent) as client:
        refused = await _answer(client, "/orgs/0123456789abcdef0123456789abcdef",
                                "olt_" + "x" * 60)
    problem(refused, 503, "unavailable")
