"""Failed authentication is throttled per client address and per key prefix, across replicas,
and a short operator token stops the process at start.

Why: 60 forged keys and 30 wrong operator tokens in a row all got plain 401s, so guessing was
free; an operator token of a few characters opens every org's finished teardown.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core import keyformat
from core.settings import Settings
from tests.support.api_support import (
    OPERATOR_TOKEN,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
)
from tests.support.deploy_support import ROOT

LIMIT = 5


def _forged(prefix: str | None = None) -> str:
    """A well-formed key no one issued (with `prefix`, one that shares an issued key's)."""
    fresh = keyformat.generate("team", b"another-pepper-entirely-0123456789abcdef").secret
    return fresh if prefix is None else prefix + fresh[keyformat.PREFIX_LEN:]


async def test_a_flood_of_bad_keys_is_throttled_and_shared_by_replicas(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    url = f"/orgs/{org.org.org_id}"
    tight = api_settings(settings, auth_failure_limit=LIMIT, auth_failure_window_seconds=600)
    async with api_client(tight) as one, api_client(tight) as two:
        for i in range(LIMIT):  # spread over two replicas: they count together
            replica = one if i % 2 else two
            problem(await replica.get(url, headers=bearer(_forged())), 401)
        refused = await one.get(url, headers=bearer(_forged()))
        body = problem(refused, 429, "too-many-failures")
        assert 1 <= int(refused.headers["Retry-After"]) <= 600
        assert body["retry_after"] == int(refused.headers["Retry-After"])
        # the address is throttled whatever it sends, a good key included
        problem(await two.get(url, headers=bearer(org.admin)), 429)
        problem(await two.get("/ops/workflows", headers=bearer(OPERATOR_TOKEN + "x")), 429)


async def test_a_key_prefix_is_throttled_from_any_address_without_a_prefix_oracle(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    url = f"/orgs/{org.org.org_id}"
    known = org.member[:keyformat.PREFIX_LEN]
    unknown = _forged()[:keyformat.PREFIX_LEN]
    tight = api_settings(settings, auth_failure_limit=LIMIT, auth_failure_window_seconds=600)
    app = create_app(tight)
    try:
        client = app
        answers: dict[str, list[int]] = {}
        for prefix in (known, unknown):
            codes = []
            for i in range(LIMIT + 1):  # each attempt from an address of its own
                async with _from(client, f"10.0.{len(answers)}.{i}") as other:
                    codes.append((await other.get(url, headers=bearer(_forged(prefix)))
                                  ).status_code)
            answers[prefix] = codes
        # the same answers whether the prefix was issued or not
        assert answers[known] == answers[unknown] == [401] * LIMIT + [429]
    finally:
        app.state.engine.dispose()


@asynccontextmanager
async def _from(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def test_a_short_operator_token_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(operator_token=SecretStr("short-token"))
    env = {**os.environ, "LIFECYCLE_OPERATOR_TOKEN": "short-token",
           "LIFECYCLE_DATABASE_URL": settings.effective_database_url}
    done = subprocess.run([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "LIFECYCLE_OPERATOR_TOKEN" in done.stderr, done.stderr
