"""Helpers for API tests: an app on the test database, an async HTTP client, keys of every kind.

The HTTP client is httpx over ASGI in the test's own event loop, so the app can share the
time-skipping server's Temporal client and a worker running in the same loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from api.problems import MEDIA_TYPE
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store import apikeys
from store.base import utcnow
from store.models import ApiKey, KeyScope, Member, Organization, OrgStatus, Role

START_DEADLINE_S = 10.0
OPERATOR_TOKEN = "operator-token-for-tests-0123456789abcdef"
SMALL = OrgShape(projects=2, datasets_per_project=1, records_per_dataset=5, members=3,
                 team_keys=1, project_keys_per_project=1, job_plans=1, usage_records=2,
                 invoices=1)


def api_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"operator_token": SecretStr(OPERATOR_TOKEN), **changes})


@asynccontextmanager
async def api_client(settings: Settings, temporal: Client | None = None
                     ) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, temporal)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client
    finally:
        app.state.engine.dispose()


@asynccontextmanager
async def running_api(settings: Settings, temporal: Client | None = None,
                      log_level: str = "warning", port: int = 0) -> AsyncIterator[str]:
    """The app served by uvicorn on an ephemeral port; yields its base URL.

    For tests whose clients need a real socket (their own connection handling, or many
    concurrent connections); the server runs in the test's event loop.
    """
    app = create_app(settings, temporal)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level=log_level, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_DEADLINE_S
        while not server.started:
            assert not task.done(), "uvicorn stopped while starting"
            assert loop.time() < deadline, "uvicorn did not start in time"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        app.state.engine.dispose()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def teardown_status(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]
                          ) -> dict[str, Any]:
    """The org's teardown status body, asserting the API answered 200."""
    response = await client.get(f"/orgs/{org_id}/teardown", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    """Assert `response` is an RFC 9457 problem with `status` (and type slug); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if slug is not None:
        assert body["type"].endswith(":" + slug), body
    return body


@dataclass
class OrgKeys:
    """An org with a key of every kind the auth rules distinguish."""

    org: SeededOrg
    admin: str
    member: str
    member_id: str
    project: str  # a key of project_ids[0]
    expired: str
    revoked: str


def mint(sessions: sessionmaker[Session], settings: Settings, org_id: str, created_by: str,
         *, scope: KeyScope = KeyScope.TEAM, project_id: str | None = None, days: int = 90,
         expires_in: timedelta | None = None, revoked: bool = False) -> str:
    """A real key in the database, made by the same repository code the API uses."""
    now = utcnow()
    with sessions.begin() as session:
        made = apikeys.create_key(session, org_id=org_id, scope=scope, project_id=project_id,
                                  name="test-key", created_by=created_by, lifetime_days=days,
                                  pepper=settings.pepper_bytes, now=now)
        if expires_in is not None:
            made.row.expires_at = now + expires_in
        if revoked:
            made.row.revoked_at = now
    return made.secret


def seed_with_keys(sessions: sessionmaker[Session], settings: Settings,
                   shape: OrgShape = SMALL) -> OrgKeys:
    with sessions.begin() as session:
        org = seed_org(session, shape, settings.pepper_bytes)
        member_id = session.execute(select(Member.id).where(
            Member.org_id == org.org_id, Member.role == Role.MEMBER).limit(1)).scalar_one()
    admin = org.admin_member_id
    return OrgKeys(
        org=org, admin=org.admin_key, member_id=member_id,
        member=mint(sessions, settings, org.org_id, member_id),
        project=mint(sessions, settings, org.org_id, admin, scope=KeyScope.PROJECT,
                     project_id=org.project_ids[0]),
        expired=mint(sessions, settings, org.org_id, admin, expires_in=timedelta(seconds=-1)),
        revoked=mint(sessions, settings, org.org_id, admin, revoked=True))


def set_status(sessions: sessionmaker[Session], org_id: str, status: OrgStatus) -> None:
    with sessions.begin() as session:
        session.execute(update(Organization).where(Organization.id == org_id)
                        .values(status=status))


def key_row(session: Session, secret: str) -> ApiKey | None:
    return session.execute(select(ApiKey).where(ApiKey.prefix == secret[:12])
                           ).scalar_one_or_none()
