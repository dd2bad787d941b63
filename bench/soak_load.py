"""The soak's load: what console users and operators do all day, as closed-loop clients.

Each client owns one org and loops over its reads (the org, its keys, its quotas) and, every
few rounds, a key's whole life (create, extend, delete). One more client keeps starting
teardowns of freshly seeded orgs, cancelling most of them in their grace window and letting
every third run to its certificate; another triggers the key-expiry sweep now and then. A
short think time between requests keeps the load steady rather than saturating the machine,
so latency drift means the engine slowed down, not that the queue grew.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.db import make_engine, make_session_factory

LOAD_ORG = OrgShape(projects=2, datasets_per_project=1, records_per_dataset=20, members=3,
                    team_keys=3)
TORN_ORG = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=50, members=2,
                    team_keys=1)
THINK_S = 0.02
KEY_LIFE_EVERY = 5  # rounds of reads between two keys' lives
TRANSPORT_ERROR = 0  # the status recorded for a request that got no answer at all


def seed_orgs(url: str, settings: Settings, count: int) -> list[SeededOrg]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            return [seed_org(session, LOAD_ORG, settings.pepper_bytes) for _ in range(count)]
    finally:
        engine.dispose()


@dataclass
class Mix:
    base: str
    operator_token: str
    record: Callable[[float, int], None]  # (seconds, status) of every request
    stop_at: float

    def running(self) -> bool:
        return time.monotonic() < self.stop_at

    async def call(self, http: httpx.AsyncClient, method: str, path: str, token: str,
                   body: dict[str, Any] | None = None) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await http.request(method, path, json=body,
                                          headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError:
            self.record(time.perf_counter() - started, TRANSPORT_ERROR)
            return None
        self.record(time.perf_counter() - started, response.status_code)
        await asyncio.sleep(THINK_S)
        return response

    async def client(self, org: SeededOrg) -> None:
        base = f"/orgs/{org.org_id}"
        reads = [base, f"{base}/keys?limit=50", f"{base}/quotas"]
        rounds = 0
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            while self.running():
                rounds += 1
                for path in reads:
                    await self.call(http, "GET", path, org.admin_key)
                if rounds % KEY_LIFE_EVERY == 0:
                    await self._key_life(http, base, org.admin_key)

    async def _key_life(self, http: httpx.AsyncClient, base: str, token: str) -> None:
        made = await self.call(http, "POST", f"{base}/keys", token,
                               {"name": f"soak-{time.monotonic_ns() % 10**9}"})
        if made is None or made.status_code != 201:
            return
        key_id = made.json()["key"]["id"]
        await self.call(http, "POST", f"{base}/keys/{key_id}/extend", token, {"days": 30})
        await self.call(http, "DELETE", f"{base}/keys/{key_id}", token)

    async def sweeps(self, every_s: float) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            while self.running():
                await asyncio.sleep(min(every_s, max(0.0, self.stop_at - time.monotonic())))
                if self.running():
                    await self.call(http, "POST", "/ops/schedules/key-expiry-sweep/trigger",
                                    self.operator_token)


async def teardown_cycle(mix: Mix, url: str, settings: Settings) -> None:
    """Seed an org, start its teardown, cancel it in the grace window (every third one runs
    to completion with no grace), again and again."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)

    def fresh() -> SeededOrg:
        with sessions.begin() as session:
            return seed_org(session, TORN_ORG, settings.pepper_bytes)

    cycles = 0
    try:
        async with httpx.AsyncClient(base_url=mix.base, timeout=30) as http:
            while mix.running():
                cycles += 1
                org = await asyncio.to_thread(fresh)
                completes = cycles % 3 == 0
                path = f"/orgs/{org.org_id}/teardown"
                started = await mix.call(http, "POST", path, org.admin_key,
                                         {"confirm_name": org.name,
                                          "grace_seconds": 0 if completes else 3600})
                if not completes and started is not None and started.status_code == 202:
                    await mix.call(http, "POST", f"{path}/cancel", org.admin_key,
                                   {"reason": "soak"})
                await asyncio.sleep(0.5)
    finally:
        engine.dispose()
