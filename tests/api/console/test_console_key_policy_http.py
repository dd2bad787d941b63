"""The console's Settings > Key policy over HTTP (no browser), on both databases: the admin
saves it through the API's own operation, a bad value is shown next to its field and writes
nothing, a member only reads it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.models import Organization
from tests.support.api_support import api_client
from tests.support.console_support import csrf_of, http_sign_in

SHAPE = OrgShape(projects=0, datasets_per_project=0, records_per_dataset=0, members=2,
                 team_keys=1, project_keys_per_project=0, job_plans=0, usage_records=0,
                 invoices=0)


@pytest.fixture
def org(session_factory: sessionmaker[Session], settings: Settings) -> SeededOrg:
    with session_factory.begin() as session:
        return seed_org(session, SHAPE, settings.pepper_bytes)


@pytest.fixture
def settings(settings: Settings, time_skipping_env: WorkflowEnvironment) -> Settings:
    """A task queue of this test's own (the sign-in mail is read from the outbox)."""
    return settings.model_copy(update={"task_queue": f"console-kp-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def client(settings: Settings,
                 time_skipping_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, time_skipping_env.client) as http:
        yield http


def _policy(sessions: sessionmaker[Session], org_id: str) -> tuple[int, int | None]:
    with sessions() as session:
        row = session.get_one(Organization, org_id)
        return row.max_key_lifetime_days, row.revoke_unused_keys_after_days


async def test_the_admin_sets_the_unused_key_policy(
        client: httpx.AsyncClient, org: SeededOrg, session_factory: sessionmaker[Session]
        ) -> None:
    await http_sign_in(client, session_factory, org.admin_email)
    page = await client.get("/console/settings")
    assert 'id="key-policy"' in page.text and 'placeholder="never"' in page.text
    csrf = csrf_of(page.text)
    saved = await client.post("/console/settings/key-policy", data={
        "csrf_token": csrf, "max_key_lifetime_days": "200",
        "revoke_unused_keys_after_days": "365"})
    assert saved.status_code == 303 and "saved=policy" in saved.headers["location"]
    assert _policy(session_factory, org.org_id) == (200, 365)
    shown = await client.get("/console/settings?saved=policy")
    assert "Key policy saved." in shown.text and 'value="365"' in shown.text
    refused = await client.post("/console/settings/key-policy", data={
        "csrf_token": csrf, "max_key_lifetime_days": "200",
        "revoke_unused_keys_after_days": "5"})
    assert refused.status_code == 422
    assert 'value="5"' in refused.text and "greater than or equal to 8" in refused.text
    assert _policy(session_factory, org.org_id) == (200, 365)
    no_csrf = await client.post("/console/settings/key-policy", data={
        "max_key_lifetime_days": "200", "revoke_unused_keys_after_days": ""})
    assert no_csrf.status_code == 403
    off = await client.post("/console/settings/key-policy", data={
        "csrf_token": csrf, "max_key_lifetime_days": "200",
        "revoke_unused_keys_after_days": ""})
    assert off.status_code == 303 and _policy(session_factory, org.org_id) == (200, None)


async def test_a_member_sees_the_policy_and_cannot_change_it(
        client: httpx.AsyncClient, org: SeededOrg, session_factory: sessionmaker[Session]
        ) -> None:
    with session_factory.begin() as session:
        session.get_one(Organization, org.org_id).revoke_unused_keys_after_days = 90
    member = next(e for e in org.emails if e != org.admin_email)
    await http_sign_in(client, session_factory, member)
    page = await client.get("/console/settings")
    assert "Revoke keys unused for</dt><dd>90 days" in page.text
    assert 'action="/console/settings/key-policy"' not in page.text
    tried = await client.post("/console/settings/key-policy", data={
        "csrf_token": csrf_of(page.text), "max_key_lifetime_days": "365",
        "revoke_unused_keys_after_days": ""})
    assert tried.status_code == 403
    assert _policy(session_factory, org.org_id) == (365, 90)
