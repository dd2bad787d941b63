"""Rolling a key with an overlap: the old secret works until the chosen time and not after,
the new one works from the start; both are listed, linked, with an audit event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store.base import utcnow
from store.models import AuditEvent
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys
from tests.support.teardown_support import eventually


async def _roll(client: httpx.AsyncClient, org_id: str, key_id: str, admin: str,
                overlap: int) -> dict[str, object]:
    response = await client.post(f"/orgs/{org_id}/keys/{key_id}/roll",
                                 json={"overlap_seconds": overlap}, headers=bearer(admin))
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


async def _made(client: httpx.AsyncClient, org_id: str, admin: str) -> tuple[str, str]:
    made = (await client.post(f"/orgs/{org_id}/keys", json={"name": "deploy"},
                              headers=bearer(admin))).json()
    return str(made["key"]["id"]), str(made["secret"])


async def test_the_old_secret_works_until_the_chosen_time_and_not_after(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id = org.org.org_id
    async with api_client(api_settings(settings)) as client:
        async def status_with(secret: str) -> int:
            return (await client.get(f"/orgs/{org_id}/keys", headers=bearer(secret))
                    ).status_code

        key_id, old = await _made(client, org_id, org.admin)
        rolled = await _roll(client, org_id, key_id, org.admin, overlap=2)
        new = str(rolled["secret"])
        until = datetime.fromisoformat(str(rolled["old_key"]["expires_at"])  # type: ignore[index]
                                       .replace("Z", "+00:00"))
        assert await status_with(old) == 200 and await status_with(new) == 200
        first_refused = await eventually(lambda: _refused_at(status_with, old),
                                         lambda at: at is not None, timeout=30)
        assert first_refused is not None and first_refused >= until
        assert await status_with(new) == 200
        listed = (await client.get(f"/orgs/{org_id}/keys?limit=200",
                                   headers=bearer(new))).json()["items"]
        by_id = {k["id"]: k for k in listed}
        new_id = str(rolled["key"]["id"])  # type: ignore[index]
        assert by_id[new_id]["rolled_from"] == key_id and by_id[key_id]["status"] == "expired"
        assert by_id[new_id]["name"] == by_id[key_id]["name"] == "deploy"

        # overlap 0: the old secret stops at once
        key_id, old = await _made(client, org_id, new)
        rolled = await _roll(client, org_id, key_id, new, overlap=0)
        problem(await client.get(f"/orgs/{org_id}/keys", headers=bearer(old)), 401)
        assert await status_with(str(rolled["secret"])) == 200
        # a key that no longer works cannot be rolled; nor beyond seven days of overlap
        problem(await client.post(f"/orgs/{org_id}/keys/{key_id}/roll",
                                  json={"overlap_seconds": 10}, headers=bearer(new)), 409)
        problem(await client.post(f"/orgs/{org_id}/keys/{new_id}/roll",
                                  json={"overlap_seconds": 8 * 86400}, headers=bearer(new)),
                422)
        problem(await client.post(f"/orgs/{org_id}/keys/{new_id}/roll",
                                  json={"overlap_seconds": 10}, headers=bearer(org.member)),
                403)
    with session_factory() as session:
        rolls = session.scalars(select(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "api_key.rolled")).all()
    assert len(rolls) == 2


async def _refused_at(status_with: Callable[[str], Awaitable[int]],
                      secret: str) -> datetime | None:
    """When the secret was first seen refused (None while it still works)."""
    code = await status_with(secret)
    return utcnow() if code == 401 else None
