"""Operator controls of the key-expiry sweep over HTTP, against a real Temporal dev server."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from clients import schedules
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.base import utcnow
from store.models import ApiKey
from tests.support.api_support import OPERATOR_TOKEN, api_client, api_settings, bearer, problem


async def test_operator_pauses_unpauses_and_triggers_the_sweep(
        local_temporal: WorkflowEnvironment, sqlite_url: str, tmp_path: Path) -> None:
    settings = api_settings(Settings(database_url=sqlite_url, data_dir=tmp_path,
                                     task_queue=f"ops-{uuid.uuid4().hex[:8]}"))
    client = local_temporal.client
    url = "/ops/schedules/key-expiry-sweep"
    async with api_client(settings, client) as http:
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(schedules.SCHEDULE_ID).delete()
        problem(await http.get(url, headers=bearer(OPERATOR_TOKEN)), 404)
        await schedules.sync(client, settings)
        try:
            problem(await http.post(url + "/pause"), 401)
            shown = await http.get(url, headers=bearer(OPERATOR_TOKEN))
            assert shown.status_code == 200 and shown.json()["paused"] is False
            assert shown.json()["overlap"] == "SKIP"
            paused = await http.post(url + "/pause", headers=bearer(OPERATOR_TOKEN))
            assert paused.status_code == 200 and paused.json()["paused"] is True
            resumed = await http.post(url + "/unpause", headers=bearer(OPERATOR_TOKEN))
            assert resumed.json()["paused"] is False
            triggered = await http.post(url + "/trigger", headers=bearer(OPERATOR_TOKEN))
            assert triggered.status_code == 202
        finally:
            await client.get_schedule_handle(schedules.SCHEDULE_ID).delete()


async def test_stale_keys_for_operators(session_factory: sessionmaker[Session],
                                        settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, OrgShape(team_keys=3, projects=0), settings.pepper_bytes)
        old = utcnow() - timedelta(days=200)
        session.execute(update(ApiKey).where(ApiKey.org_id == org.org_id)
                        .values(created_at=old))
        session.execute(update(ApiKey).where(ApiKey.prefix == org.admin_key[:12])
                        .values(last_used_at=utcnow()))
    async with api_client(api_settings(settings)) as http:
        problem(await http.get("/ops/keys/stale"), 401)
        page = await http.get("/ops/keys/stale", params={"unused_days": 90},
                              headers=bearer(OPERATOR_TOKEN))
        problem(await http.get("/ops/keys/stale", params={"unused_days": -1},
                               headers=bearer(OPERATOR_TOKEN)), 422)
    assert page.status_code == 200
    prefixes = {k["prefix"] for k in page.json()["items"]}
    assert len(prefixes) == 2 and org.admin_key[:12] not in prefixes
    assert "secret_hash" not in page.text
