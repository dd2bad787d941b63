"""The API while PostgreSQL is away: 503 problems, never a traceback, never a partial write.

The app (real uvicorn, real PostgreSQL database of this run) reaches the database through a
`TcpProxy` the test controls; the shared cluster itself is never touched. Two faults:
- the connection is dropped in the middle of a write, at the key INSERT, at the audit INSERT
  or at COMMIT (the proxy drops the packet carrying that statement);
- the proxy is cut for a while: every read and write answers 503 and /readyz names the
  database; once restored, the same calls answer 200/201 again.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from services.seeding import SEED_ACTOR
from store.db import make_engine, make_session_factory
from store.models import ApiKey, AuditEvent, Organization, PaymentMethod
from tests.chaos.support import SCALE
from tests.chaos.tcp_proxy import TcpProxy
from tests.support.api_support import (
    OrgKeys,
    api_settings,
    bearer,
    problem,
    running_api,
    seed_with_keys,
)
from tests.support.teardown_support import eventually

CUT_POINTS = (b"INSERT INTO api_keys", b"INSERT INTO audit_events", b"COMMIT")
CARD = {"token": "tok_outage", "brand": "visa", "last4": "4242", "exp_month": 12,
        "exp_year": 2099}


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    relay = TcpProxy("127.0.0.1", 5432)
    relay.start()
    yield relay
    relay.cut()


@pytest.fixture
def proxied(proxy: TcpProxy, postgres_url: str, tmp_path: Path) -> Settings:
    """API settings on the run's database, rerouted through the proxy, in clear (sslmode
    disabled) so the cut points match the queries."""
    url = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port,
                                     query={"sslmode": "disable"})
    return api_settings(Settings(database_url=url.render_as_string(hide_password=False),
                                 data_dir=tmp_path))


@pytest.fixture
def org(pg_sessions: sessionmaker[Session], proxied: Settings) -> OrgKeys:
    return seed_with_keys(pg_sessions, proxied)


def _writes(org: OrgKeys, label: str) -> list[tuple[str, str, dict[str, Any]]]:
    org_id = org.org.org_id
    return [("POST", f"/orgs/{org_id}/keys", {"name": label}),
            ("PATCH", f"/orgs/{org_id}", {"description": label}),
            ("PUT", f"/orgs/{org_id}/payment-method", CARD)]


def _reads(org: OrgKeys) -> list[str]:
    org_id = org.org.org_id
    return [f"/orgs/{org_id}", f"/orgs/{org_id}/keys", f"/orgs/{org_id}/quotas"]


def _written(sessions: sessionmaker[Session], org_id: str, label: str) -> dict[str, int]:
    """Traces of writes labelled `label`, plus every audit event and card of the org."""
    with sessions() as session:
        return {
            "keys": session.scalar(select(func.count()).select_from(ApiKey).where(
                ApiKey.org_id == org_id, ApiKey.name == label)) or 0,
            "descriptions": session.scalar(select(func.count()).select_from(Organization)
                                           .where(Organization.id == org_id,
                                                  Organization.description == label)) or 0,
            "audit": session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.org_id == org_id)) or 0,
            "cards": session.scalar(select(func.count()).select_from(PaymentMethod).where(
                PaymentMethod.org_id == org_id)) or 0,
        }


def _unavailable(response: httpx.Response) -> None:
    body = problem(response, 503, "unavailable")
    assert response.headers["retry-after"]
    assert "Traceback" not in response.text and "psycopg2" not in response.text, body


async def test_connection_dropped_mid_write_is_a_503_and_leaves_nothing(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        proxy: TcpProxy, proxied: Settings, org: OrgKeys) -> None:
    settings = proxied
    admin = bearer(org.admin)
    async with running_api(settings, local_temporal.client) as base, \
            httpx.AsyncClient(base_url=base, timeout=30) as client:
        for round_ in range(SCALE):
            for point in CUT_POINTS:
                label = f"cut-{round_}-{point.split()[-1].decode()}"
                before = _written(pg_sessions, org.org.org_id, label)
                fired = proxy.cut_when(point)
                response = await client.post(f"/orgs/{org.org.org_id}/keys", headers=admin,
                                             json={"name": label})
                assert fired.is_set(), f"the write never sent {point!r}"
                _unavailable(response)
                assert _written(pg_sessions, org.org.org_id, label) == before
        made = await client.post(f"/orgs/{org.org.org_id}/keys", headers=admin,
                                 json={"name": "after-the-cuts"})
    assert made.status_code == 201, made.text
    assert _written(pg_sessions, org.org.org_id, "after-the-cuts")["keys"] == 1
    print(f"dropped {len(CUT_POINTS) * SCALE} writes mid-request: all 503, none left a row")


async def test_database_away_then_back(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        proxy: TcpProxy, proxied: Settings, org: OrgKeys) -> None:
    settings = proxied
    admin = bearer(org.admin)
    before = _written(pg_sessions, org.org.org_id, "during-outage")
    refused = 0
    async with running_api(settings, local_temporal.client) as base, \
            httpx.AsyncClient(base_url=base, timeout=30) as client:
        assert (await client.get("/readyz")).status_code == 200
        for path in _reads(org):  # fill the pool: the outage must also kill live connections
            assert (await client.get(path, headers=admin)).status_code == 200
        closed = proxy.cut()

        for _ in range(3 * SCALE):
            for path in _reads(org):
                _unavailable(await client.get(path, headers=admin))
                refused += 1
            for method, path, body in _writes(org, "during-outage"):
                _unavailable(await client.request(method, path, headers=admin, json=body))
                refused += 1
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"]["ok"] is False and checks["database"]["error"]
        assert checks["temporal"] == {"ok": True}

        proxy.restore()
        await eventually(lambda: client.get("/readyz"), lambda r: r.status_code == 200,
                         timeout=20)
        for path in _reads(org):
            assert (await client.get(path, headers=admin)).status_code == 200
        after_outage = _written(pg_sessions, org.org.org_id, "during-outage")
        for method, path, body in _writes(org, "after-outage"):
            response = await client.request(method, path, headers=admin, json=body)
            assert response.status_code < 300, response.text
    assert after_outage == before, "a write attempted during the outage left something"
    assert _written(pg_sessions, org.org.org_id, "after-outage")["keys"] == 1
    print(f"outage: {closed} live connections cut, {refused} requests answered 503; "
          "200 again after restore")



async def test_random_cuts_under_concurrent_load(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        proxy: TcpProxy, proxied: Settings, org: OrgKeys) -> None:
    """Clients write and read while the proxy is cut and restored at random moments.

    Only 2xx and 503 are acceptable answers. A 503 on a lost COMMIT reply is ambiguous by
    nature, so the check on the data is atomicity: every key created has its audit event, and
    every key answered 201 exists.
    """
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    settings = proxied
    org_id, admin = org.org.org_id, bearer(org.admin)
    statuses: Counter[int] = Counter()
    created: list[str] = []
    stop = asyncio.Event()

    async def client_loop(client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            response = await client.post(f"/orgs/{org_id}/keys", headers=admin,
                                         json={"name": f"load-{n}-{i}"})
            statuses[response.status_code] += 1
            if response.status_code == 201:
                created.append(response.json()["key"]["prefix"])
            elif response.status_code != 503 or "Traceback" in response.text:
                raise AssertionError(response.text)
            got = await client.get(f"/orgs/{org_id}/keys", headers=admin)
            statuses[got.status_code] += 1
            assert got.status_code in (200, 503), got.text

    cuts = 4 * SCALE
    async with running_api(settings, local_temporal.client) as base, \
            httpx.AsyncClient(base_url=base, timeout=30) as client:
        loops = [asyncio.create_task(client_loop(client, n)) for n in range(4)]
        for _ in range(cuts):
            await asyncio.sleep(rng.uniform(0.1, 0.6))  # the fault's timing, not a wait
            proxy.cut()
            await asyncio.sleep(rng.uniform(0.1, 0.4))
            proxy.restore()
        await eventually(lambda: client.get("/readyz"), lambda r: r.status_code == 200)
        stop.set()
        await asyncio.gather(*loops)
    with pg_sessions() as session:
        keys = set(session.scalars(select(ApiKey.prefix).where(
            ApiKey.org_id == org_id, ApiKey.name.like("load-%"))))
        audited = set(session.scalars(select(AuditEvent.target).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "api_key.created",
            AuditEvent.actor != SEED_ACTOR)))
    assert set(created) <= keys
    assert {f"key:{prefix}" for prefix in keys} == audited
    assert statuses[503] > 0 and (statuses[201] + statuses[200]) > 0, statuses
    print(f"random cuts seed={seed}: {cuts} cuts, answers {dict(statuses)}; "
          f"{len(keys)} keys each with its audit event")


async def test_no_free_connection_is_a_503(pg_sessions: sessionmaker[Session],
                                           postgres_url: str, tmp_path: Path) -> None:
    """A pool that cannot hand out a connection in time is the database being unavailable.

    The app's pool is shrunk to one connection that the test holds, so the request really
    waits for the pool and really gets SQLAlchemy's pool timeout.
    """
    settings = api_settings(Settings(database_url=postgres_url, data_dir=tmp_path))
    org = seed_with_keys(pg_sessions, settings)
    app = create_app(settings)
    app.state.engine.dispose()
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    app.state.engine, app.state.session_factory = engine, make_session_factory(engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        with engine.connect():  # the only connection, held until the request is answered
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
                response = await c.get(f"/orgs/{org.org.org_id}", headers=bearer(org.admin))
        _unavailable(response)
    finally:
        engine.dispose()
