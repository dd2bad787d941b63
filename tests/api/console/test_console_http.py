"""The console's rules over HTTP (no browser), on both databases: sign-in answers, limits,
CSRF, session ends, the frozen org, the dev-only mailbox and the offline API docs."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.console.routes_auth import PER_ADDRESS, PER_CLIENT
from api.console.routes_keys import PAGE_SIZE
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.base import utcnow
from store.console_auth import SCRUBBED_BODY
from store.console_models import ConsoleSession
from store.models import ApiKey, Member, OrgStatus, OutboxMessage, Quota
from tests.support.api_support import api_client, mint, set_status
from tests.support.console_support import csrf_of, http_sign_in

SHAPE = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=2, members=2,
                 team_keys=1, project_keys_per_project=0, job_plans=0, usage_records=0,
                 invoices=0)


@pytest.fixture
def org(session_factory: sessionmaker[Session], settings: Settings) -> SeededOrg:
    with session_factory.begin() as session:
        return seed_org(session, SHAPE, settings.pepper_bytes)


@pytest.fixture
def settings(settings: Settings, time_skipping_env: WorkflowEnvironment) -> Settings:
    """A task queue of this test's own: sign-in mails start their delivery workflows on the
    time-skipping server, where no worker takes them (these tests read the outbox instead)."""
    return settings.model_copy(update={"task_queue": f"console-http-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def client(settings: Settings,
                 time_skipping_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, time_skipping_env.client) as http:
        yield http


async def _ask(client: httpx.AsyncClient, email: str) -> httpx.Response:
    form = await client.get("/console/signin")
    return await client.post("/console/signin",
                             data={"email": email, "csrf_token": csrf_of(form.text)})


def _sign_in_mails(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.idempotency_key.like("signin:%"))).scalar_one())


async def test_the_answer_is_the_same_for_members_and_strangers(
        client: httpx.AsyncClient, org: SeededOrg,
        session_factory: sessionmaker[Session]) -> None:
    member = await _ask(client, org.admin_email)
    stranger = await _ask(client, "nobody@example.com")
    assert member.status_code == stranger.status_code == 200
    assert member.text.replace(org.admin_email, "X") == \
        stranger.text.replace("nobody@example.com", "X")
    assert _sign_in_mails(session_factory) == 1  # the stranger got nothing


async def test_sign_in_requests_are_limited_per_address_and_per_client(
        client: httpx.AsyncClient, org: SeededOrg,
        session_factory: sessionmaker[Session]) -> None:
    for _ in range(PER_ADDRESS):
        assert (await _ask(client, org.admin_email)).status_code == 200
    refused = await _ask(client, org.admin_email)
    assert refused.status_code == 429 and "Too many sign-in requests" in refused.text
    assert _sign_in_mails(session_factory) == PER_ADDRESS
    for i in range(PER_CLIENT - PER_ADDRESS - 1):
        assert (await _ask(client, f"other{i}@example.com")).status_code == 200
    assert (await _ask(client, "one-more@example.com")).status_code == 429


async def test_a_form_without_or_with_a_foreign_csrf_token_is_refused(
        client: httpx.AsyncClient, settings: Settings, org: SeededOrg,
        time_skipping_env: WorkflowEnvironment) -> None:
    missing = await client.post("/console/signin", data={"email": org.admin_email})
    assert missing.status_code == 403
    assert "Missing or wrong CSRF token" in missing.text
    async with api_client(settings, time_skipping_env.client) as other:
        foreign = csrf_of((await other.get("/console/signin")).text)
    await client.get("/console/signin")
    forged = await client.post("/console/signin",
                               data={"email": org.admin_email, "csrf_token": foreign})
    assert forged.status_code == 403


async def test_secrets_rest_only_as_hashes(client: httpx.AsyncClient, org: SeededOrg,
                                           session_factory: sessionmaker[Session]) -> None:
    await http_sign_in(client, session_factory, org.admin_email)
    cookie = client.cookies["olc_session"]
    with session_factory() as session:
        [row] = session.scalars(select(ConsoleSession)).all()
        assert cookie.encode() not in row.id_hash and cookie not in row.id
        # used: the link is gone from the outbox too
        assert session.scalars(select(OutboxMessage.body)).all() == [SCRUBBED_BODY]


@pytest.mark.parametrize("ending", ["idle", "absolute", "member removed"])
async def test_a_session_ends(ending: str, client: httpx.AsyncClient, org: SeededOrg,
                              session_factory: sessionmaker[Session],
                              settings: Settings) -> None:
    email = next(e for e in org.emails if e != org.admin_email)
    await http_sign_in(client, session_factory, email)
    assert (await client.get("/console/settings")).status_code == 200
    now = utcnow()
    with session_factory.begin() as session:
        if ending == "idle":
            idle = timedelta(minutes=settings.console_session_idle_minutes, seconds=1)
            session.execute(update(ConsoleSession).values(last_seen_at=now - idle))
        elif ending == "absolute":
            session.execute(update(ConsoleSession).values(expires_at=now))
        else:
            member_id = session.scalars(select(Member.id).where(Member.email == email)).one()
            session.execute(delete(Quota).where(Quota.member_id == member_id))
            session.execute(delete(ApiKey).where(ApiKey.created_by == member_id))
            session.execute(delete(Member).where(Member.id == member_id))
    gone = await client.get("/console/settings")
    assert gone.status_code == 303 and gone.headers["location"] == "/console/signin"
    with session_factory() as session:
        assert session.scalars(select(ConsoleSession)).all() == []


async def test_a_frozen_orgs_admin_reaches_the_danger_zone_only(
        client: httpx.AsyncClient, org: SeededOrg, settings: Settings,
        session_factory: sessionmaker[Session]) -> None:
    await http_sign_in(client, session_factory, org.admin_email)
    set_status(session_factory, org.org_id, OrgStatus.FROZEN)
    for path in ("/console/settings", "/console/keys"):
        page = await client.get(path)
        assert page.status_code == 403 and "Organization is frozen" in page.text
        assert 'href="/console/danger"' in page.text
    danger = await client.get("/console/danger")
    assert danger.status_code == 303
    assert danger.headers["location"].startswith("/console/teardown/olc_" + org.org_id)


async def test_every_console_response_carries_the_security_headers(
        client: httpx.AsyncClient) -> None:
    for path in ("/console/signin", "/console/static/console.js", "/console/nowhere"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    assert "content-security-policy" not in (await client.get("/healthz")).headers


async def test_the_mailbox_exists_only_under_lifecycle_dev(settings: Settings,
                                                           tmp_path: Path) -> None:
    async with api_client(settings) as plain:
        assert (await plain.get("/console/dev/mailbox")).status_code == 404
    (tmp_path / "1-0000.eml").write_bytes(
        b"To: a@example.com\r\nSubject: Hello\r\n\r\nsee http://127.0.0.1/x\r\n")
    dev = settings.model_copy(update={"dev_mailbox_dir": str(tmp_path)})
    async with api_client(dev) as http:
        page = await http.get("/console/dev/mailbox")
    assert page.status_code == 200 and "Hello" in page.text
    assert '<a href="http://127.0.0.1/x">' in page.text


async def test_api_docs_load_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    for page, assets in (("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
                         ("/redoc", ("redoc.standalone.js",))):
        html = (await client.get(page)).text
        assert "cdn" not in html.lower() and "https://" not in html, page
        for asset in assets:
            assert f'"/docs-assets/{asset}"' in html, (page, asset)
            served = await client.get(f"/docs-assets/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000, asset


async def test_the_key_list_pages(client: httpx.AsyncClient, org: SeededOrg,
                                  session_factory: sessionmaker[Session],
                                  settings: Settings) -> None:
    for _ in range(PAGE_SIZE + 3):
        mint(session_factory, settings, org.org_id, org.admin_member_id)
    await http_sign_in(client, session_factory, org.admin_email)
    first = await client.get("/console/keys")
    rows = first.text.count('class="select-key"')
    assert rows == PAGE_SIZE
    cursor = re.search(r'href="/console/keys\?cursor=(\w+)" id="next-page"', first.text)
    assert cursor, "no next page link"
    second = await client.get(f"/console/keys?cursor={cursor.group(1)}")
    with session_factory() as session:
        total = session.execute(select(func.count()).select_from(ApiKey).where(
            ApiKey.org_id == org.org_id)).scalar_one()
    assert second.text.count('class="select-key"') == total - PAGE_SIZE
    assert 'id="next-page"' not in second.text


async def test_over_https_the_cookie_is_secure_and_host_only(
        settings: Settings, org: SeededOrg, session_factory: sessionmaker[Session],
        time_skipping_env: WorkflowEnvironment) -> None:
    app = create_app(settings, time_skipping_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as http:
        await http_sign_in(http, session_factory, org.admin_email, cookie="__Host-olc_session")
        [cookie] = [c for c in http.cookies.jar if c.name == "__Host-olc_session"]
        assert cookie.secure and cookie.path == "/" and not cookie.domain_specified
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert (await http.get("/console/settings")).status_code == 200
    app.state.engine.dispose()
