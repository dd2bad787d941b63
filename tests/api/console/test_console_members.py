"""The Members page in real headless Chromium, against the whole stack (uvicorn, a worker on
the Temporal dev server, PostgreSQL, a real SMTP server): invite by mail, accept in a second
browser, remove them with the offboarding's progress, and their session ends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import expect
from temporalio.testing import WorkflowEnvironment

from tests.support.console_support import Stack, console_stack, ready
from tests.support.teardown_support import eventually

pytestmark = pytest.mark.slow

INVITATION_LINK = re.compile(r"http://\S+/console/invitation\?org=\w+&token=[\w\-]+")


@pytest.fixture(scope="module")
async def stack(postgres_url: str, local_temporal: WorkflowEnvironment,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with console_stack(postgres_url, tmp_path_factory.mktemp("console-members"),
                             local_temporal.client) as running:
        yield running


async def test_invite_accept_in_another_browser_then_remove(stack: Stack) -> None:
    org = stack.seed()
    invitee = f"new-{org.org_id[:8]}@example.com"
    admin_ctx = await stack.browser.new_context()
    guest_ctx = await stack.browser.new_context()
    try:
        admin = await admin_ctx.new_page()
        await stack.sign_in(admin, org.admin_email)
        await admin.goto(f"{stack.url}/console/members")
        await stack.timings.record(admin, "members")
        await admin.fill("#invite-email", invitee)
        await admin.click("#send-invitation")
        await expect(admin.locator(".notice")).to_have_text("Invitation sent.")
        invited = admin.locator("#invitations-table tr", has_text=invitee)
        await expect(invited.locator(".status")).to_have_text("pending")

        async def mails() -> list[str]:
            return [m.body for m in stack.inbox.to(invitee)]

        bodies = await eventually(mails, lambda got: len(got) == 1, timeout=15)
        link = INVITATION_LINK.search(bodies[0])
        assert link, bodies[0]

        guest = await guest_ctx.new_page()
        await guest.goto(link.group())
        await expect(guest.locator("h1")).to_have_text(f"Join {org.name}")
        await guest.fill("#join-name", "Newcomer")
        await guest.click("#accept-invitation")
        await guest.wait_for_url(f"{stack.url}/console/settings")
        await expect(guest.locator("header .email")).to_contain_text(invitee)
        used = await guest.goto(link.group())  # single use
        assert used is not None and used.status == 400

        await admin.goto(f"{stack.url}/console/members")
        row = admin.locator("#members-table tr", has_text=invitee)
        await expect(row.locator(".role")).to_have_text("member")
        await ready(admin)
        await row.get_by_role("button", name="Remove").click()
        await admin.click("#confirm-ok")
        await admin.wait_for_url(re.compile(r"/console/members/\w+/removal$"))
        await stack.timings.record(admin, "member removal")

        async def status() -> str:
            await admin.reload()
            return await admin.locator("#removal-status").inner_text()

        assert await eventually(status, lambda s: s == "completed", timeout=60) == "completed"
        await expect(admin.locator("tr[data-step=remove_member] .count")).to_have_text("1")
        await expect(admin.locator("tr[data-step=notify] .count")).to_have_text("2")

        await guest.goto(f"{stack.url}/console/settings")  # their session ended
        await guest.wait_for_url(re.compile(r"/console/signin"))
        await admin.goto(f"{stack.url}/console/members")
        await expect(admin.locator("#members-table tr", has_text=invitee)).to_have_count(0)
    finally:
        await guest_ctx.close()
        await admin_ctx.close()
