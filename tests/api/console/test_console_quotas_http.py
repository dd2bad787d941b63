"""The Quotas and Audit log pages over HTTP (no browser), on both databases: a form without
its CSRF token writes nothing, a bad filter is a 422 page, the export is the API's NDJSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.models import AuditEvent, Member, Role
from store.permission_models import ServicePermission
from tests.support.api_support import api_client
from tests.support.console_support import csrf_of, http_sign_in

SHAPE = OrgShape(projects=1, datasets_per_project=0, records_per_dataset=0, members=2,
                 team_keys=1, project_keys_per_project=0, job_plans=0, usage_records=0,
                 invoices=0)


@pytest.fixture
def settings(settings: Settings, time_skipping_env: WorkflowEnvironment) -> Settings:
    """A task queue of this test's own: sign-in mails are read from the outbox here."""
    return settings.model_copy(update={"task_queue": f"console-quotas-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def client(settings: Settings, time_skipping_env: WorkflowEnvironment,
                 session_factory: sessionmaker[Session]) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, time_skipping_env.client) as http:
        yield http


@pytest.fixture
def org(session_factory: sessionmaker[Session], settings: Settings) -> SeededOrg:
    with session_factory.begin() as session:
        return seed_org(session, SHAPE, settings.pepper_bytes)


def _switches(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ServicePermission)) or 0)


async def test_forms_need_their_csrf_token_and_filters_are_checked(
        client: httpx.AsyncClient, org: SeededOrg,
        session_factory: sessionmaker[Session]) -> None:
    await http_sign_in(client, session_factory, org.admin_email)
    with session_factory() as session:
        member = session.scalars(select(Member.id).where(
            Member.org_id == org.org_id, Member.role == Role.MEMBER)).one()
    quotas = await client.get("/console/quotas?service=virtual_compute")
    assert quotas.status_code == 200 and "Virtual Compute Service" in quotas.text
    form = {"service": "virtual_compute", "enabled": "off"}
    missing = await client.post(f"/console/quotas/{member}/permission", data=form)
    assert missing.status_code == 403 and _switches(session_factory) == 0
    done = await client.post(f"/console/quotas/{member}/permission",
                             data={**form, "csrf_token": csrf_of(quotas.text)})
    assert done.status_code == 303 and _switches(session_factory) == 1
    admin = await client.post(f"/console/quotas/{org.admin_member_id}/permission",
                              data={**form, "csrf_token": csrf_of(quotas.text)})
    assert admin.status_code == 409 and "always use every service" in admin.text
    bad = await client.post(f"/console/quotas/{member}/limit", data={
        "service": "gpu", "limit": "5", "csrf_token": csrf_of(quotas.text)})
    assert bad.status_code == 422
    stranger = await client.post("/console/quotas/" + "0" * 32 + "/limit", data={
        "service": "virtual_compute", "limit": "5", "csrf_token": csrf_of(quotas.text)})
    assert stranger.status_code == 404 and "is not in this organization" in stranger.text
    assert (await client.get("/console/quotas?service=gpu")).status_code == 422

    page = await client.get("/console/audit", params={"from": "not-a-date"})
    assert page.status_code == 422 and "pick a date" in page.text
    export = await client.get("/console/audit/export",
                              params={"action": "service_permission.set"})
    assert export.headers["content-type"].startswith("application/x-ndjson")
    [event] = [json.loads(line) for line in export.text.splitlines()]
    assert event["actor"] == f"member:{org.admin_member_id}"
    assert event["target"] == f"member:{member}"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.org_id == org.org_id, AuditEvent.action == "service_permission.set")) == 1
