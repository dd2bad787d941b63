"""NUL characters are refused with a 422 on both databases, and nothing is written.

Why: PostgreSQL cannot store U+0000 in text, so without the guard a key named "\\u0000<b" would
reach the driver and fail there instead of being refused as bad input.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store.models import ApiKey
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys


def _keys(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)


async def test_nul_in_body_query_or_path_is_a_422_without_a_write(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    base = f"/orgs/{org.org.org_id}/keys"
    before = _keys(session_factory)
    async with api_client(api_settings(settings)) as api:
        admin = bearer(org.admin)
        refused = [
            await api.post(base, headers=admin, json={"name": "\x00<b", "expires_in_days": 30}),
            await api.get(base, headers=admin, params={"cursor": "a\x00b"}),
            await api.delete(f"{base}/abc%00def", headers=admin),
        ]
        fine = await api.post(base, headers=admin, json={"name": "ok", "expires_in_days": 30})
    for response in refused:
        assert "NUL" in problem(response, 422, "invalid-input")["detail"]
    assert fine.status_code == 201, fine.text
    assert _keys(session_factory) == before + 1
