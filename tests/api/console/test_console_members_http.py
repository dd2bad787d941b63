"""The Members page's rules over HTTP (no browser), on both databases: a refused invitation is
shown next to its field and writes nothing, the admin account has no role or remove action
and a forged one is refused, a member (not admin) cannot reach the page, and an invitation's
accept page refuses a used or another org's link."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.member_models import MemberInvitation
from store.models import Member, Role
from tests.support.api_support import api_client
from tests.support.console_support import csrf_of, http_sign_in
from tests.support.db_snapshot import changed, fingerprint
from tests.support.member_support import mailed_token

SHAPE = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=2, members=2,
                 team_keys=1, project_keys_per_project=0, job_plans=0, usage_records=0,
                 invoices=0)


@pytest.fixture
def settings(settings: Settings, time_skipping_env: WorkflowEnvironment) -> Settings:
    """A task queue of this test's own: mails start their delivery on the time-skipping
    server, where no worker takes them (these tests read the outbox instead)."""
    return settings.model_copy(update={"task_queue": f"console-members-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def client(settings: Settings,
                 time_skipping_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, time_skipping_env.client) as http:
        yield http


def _seed(sessions: sessionmaker[Session], settings: Settings) -> SeededOrg:
    with sessions.begin() as session:
        return seed_org(session, SHAPE, settings.pepper_bytes)


async def test_members_page_refuses_what_the_api_refuses(
        client: httpx.AsyncClient, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = _seed(session_factory, settings)
    other = _seed(session_factory, settings)
    await http_sign_in(client, session_factory, org.admin_email)
    listing = await client.get("/console/members")
    assert listing.status_code == 200
    assert f'/console/members/{org.admin_member_id}/remove' not in listing.text
    csrf = csrf_of(listing.text)

    before = fingerprint(session_factory)
    bad = await client.post("/console/members/invite", data={"email": "not an address",
                                                              "csrf_token": csrf})
    taken = await client.post("/console/members/invite", data={"email": org.emails[1],
                                                                "csrf_token": csrf})
    forged = await client.post(f"/console/members/{org.admin_member_id}/remove",
                               data={"csrf_token": csrf})
    demote = await client.post(f"/console/members/{org.admin_member_id}/role",
                               data={"role": "member", "csrf_token": csrf})
    no_csrf = await client.post("/console/members/invite", data={"email": "x@example.com"})
    assert changed(before, fingerprint(session_factory)) in ([], ["console_sessions"])
    assert bad.status_code == 422 and 'data-field="email"' in bad.text
    assert taken.status_code == 409 and "already a member" in taken.text
    assert forged.status_code == 409 and "can never be removed" in forged.text
    assert demote.status_code == 409
    assert no_csrf.status_code == 403

    sent = await client.post("/console/members/invite", data={
        "email": "guest@example.com", "role": "member", "csrf_token": csrf})
    assert sent.status_code == 303
    with session_factory() as session:
        invitation = session.scalars(select(MemberInvitation).where(
            MemberInvitation.org_id == org.org_id)).one()
    token = mailed_token(session_factory, invitation.id)
    foreign = await client.get("/console/invitation",
                               params={"org": other.org_id, "token": token})
    assert foreign.status_code == 400
    async with api_client(settings) as guest:
        page = await guest.get("/console/invitation", params={"org": org.org_id,
                                                             "token": token})
        assert page.status_code == 200 and "Join" in page.text
        joined = await guest.post("/console/invitation", data={
            "org": org.org_id, "token": token, "name": "Guest",
            "csrf_token": csrf_of(page.text)})
        assert joined.status_code == 303 and "olc_session" in joined.headers["set-cookie"]
        again = await guest.get("/console/invitation", params={"org": org.org_id,
                                                              "token": token})
        assert again.status_code == 400
        members_page = await guest.get("/console/members")
        assert members_page.status_code == 403  # a member, not an admin
    with session_factory() as session:
        role = session.scalar(select(Member.role).where(Member.email == "guest@example.com"))
    assert role is Role.MEMBER
