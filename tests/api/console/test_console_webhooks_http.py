"""The console's Webhooks page over HTTP (no browser), on both databases: admins only, CSRF
on every form, a refused target shown in the form with no secret, an unknown endpoint a 404.
The whole walk (add, secret once, test event, log, rotate, delete) is the browser test's."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.models import AuditEvent
from store.webhook_models import WebhookEndpoint
from tests.support.api_support import api_client
from tests.support.console_support import csrf_of, http_sign_in

SHAPE = OrgShape(projects=0, datasets_per_project=0, records_per_dataset=0, members=2,
                 team_keys=1, project_keys_per_project=0, job_plans=0, usage_records=0,
                 invoices=0)
URL = "https://hooks.example.com/lifecycle"


@pytest.fixture
def org(session_factory: sessionmaker[Session], settings: Settings) -> SeededOrg:
    with session_factory.begin() as session:
        return seed_org(session, SHAPE, settings.pepper_bytes)


@pytest.fixture
def settings(settings: Settings, time_skipping_env: WorkflowEnvironment) -> Settings:
    """A task queue of this test's own (the sign-in mail is read from the outbox)."""
    return settings.model_copy(update={"task_queue": f"console-wh-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def client(settings: Settings,
                 time_skipping_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, time_skipping_env.client) as http:
        yield http


async def test_a_private_target_or_a_form_without_csrf_adds_nothing(
        client: httpx.AsyncClient, org: SeededOrg, session_factory: sessionmaker[Session]
        ) -> None:
    await http_sign_in(client, session_factory, org.admin_email)
    page = await client.get("/console/webhooks")
    assert page.status_code == 200 and 'href="/console/webhooks" aria-current="page"' in page.text
    csrf = csrf_of(page.text)
    refused = await client.post("/console/webhooks", data={"url": "https://10.0.0.1/x",
                                                           "csrf_token": csrf})
    assert refused.status_code == 422 and "whsec_" not in refused.text
    no_csrf = await client.post("/console/webhooks", data={"url": URL})
    assert no_csrf.status_code == 403
    with session_factory() as session:
        assert session.scalars(select(WebhookEndpoint)).all() == []
    missing = await client.get("/console/webhooks/nope")
    assert missing.status_code == 404
    listed = await client.get("/console/webhooks")
    assert "whsec_" not in listed.text


async def test_members_reach_no_webhook_page(
        client: httpx.AsyncClient, org: SeededOrg, session_factory: sessionmaker[Session]
        ) -> None:
    member = next(e for e in org.emails if e != org.admin_email)
    await http_sign_in(client, session_factory, member)
    settings_page = await client.get("/console/settings")
    assert 'href="/console/webhooks"' not in settings_page.text
    page = await client.get("/console/webhooks")
    assert page.status_code == 403
    tried = await client.post("/console/webhooks", data={
        "url": URL, "csrf_token": csrf_of(settings_page.text)})
    assert tried.status_code == 403
    with session_factory() as session:
        assert session.scalars(select(WebhookEndpoint)).all() == []
        assert not session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("webhook.%"))).all()
    assert not re.search(r"whsec_\w", tried.text)
