"""The Quotas and Audit log pages in real headless Chromium, against the whole stack (uvicorn,
a worker on the Temporal dev server, PostgreSQL, a real SMTP server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from services.seeding import OrgShape
from store.models import AuditEvent, Member, Quota, Role, Service
from store.permission_models import ServicePermission
from tests.support.console_support import Stack, console_stack, ready

pytestmark = pytest.mark.slow

SHAPE = OrgShape(projects=2, datasets_per_project=0, records_per_dataset=0, members=3,
                 team_keys=1, project_keys_per_project=0, job_plans=0, usage_records=0,
                 invoices=0)


@pytest.fixture(scope="module")
async def stack(postgres_url: str, local_temporal: WorkflowEnvironment,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with console_stack(postgres_url, tmp_path_factory.mktemp("console-quotas"),
                             local_temporal.client) as running:
        yield running


@pytest.fixture
async def context(stack: Stack) -> AsyncIterator[BrowserContext]:
    ctx = await stack.browser.new_context(accept_downloads=True)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


def _member(stack: Stack, org_id: str) -> Member:
    with stack.sessions() as session:
        found = session.scalars(select(Member).where(
            Member.org_id == org_id, Member.role == Role.MEMBER).order_by(Member.id)).first()
    assert found is not None
    return found


async def test_quotas_edit_a_limit_and_switch_a_service_off_and_on(stack: Stack,
                                                                   page: Page) -> None:
    org = stack.seed(SHAPE)
    member = _member(stack, org.org_id)
    await stack.sign_in(page, org.admin_email)
    await page.click("header nav >> text=Quotas")
    await stack.timings.record(page, "quotas")
    await expect(page.locator("h1")).to_have_text("Quota Management")
    await expect(page.locator("#quotas-table tbody tr")).to_have_count(3)

    # the drop-down picks the service
    await ready(page)
    await page.select_option("#service", "virtual_compute")
    await page.wait_for_url("**/console/quotas?service=virtual_compute")
    row = page.locator(f'tr[data-member-id="{member.id}"]')
    await row.locator("input[name=limit]").fill("77")
    await row.locator(".edit-quota button").click()
    await expect(page.locator(".notice")).to_have_text("The quota was saved.")
    await expect(row.locator("td.limit")).to_have_text("77")

    # a bad limit is shown next to the field and writes nothing
    await row.locator("input[name=limit]").fill("-5")
    await row.locator("input[name=limit]").evaluate("e => e.removeAttribute('min')")
    await row.locator(".edit-quota button").click()
    await expect(row.locator(".field-error")).to_contain_text("Invalid input")

    # turning a service off asks first, then the member's row says off
    await ready(page)
    await row.locator(".toggle-permission button").click()
    await page.click("#confirm-ok")
    await expect(page.locator(".notice")).to_have_text("The service was turned off.")
    await expect(row.locator("td.permission .badge")).to_have_text("off")
    admin_row = page.locator(f'tr[data-member-id="{org.admin_member_id}"]')
    await expect(admin_row.locator("td.permission")).to_have_text("always")
    with stack.sessions() as session:
        limit = session.scalars(select(Quota.limit).where(
            Quota.member_id == member.id, Quota.service == Service.VIRTUAL_COMPUTE)).one()
        switch = session.scalars(select(ServicePermission.enabled).where(
            ServicePermission.member_id == member.id)).one()
        actors = set(session.scalars(select(AuditEvent.actor).where(
            AuditEvent.org_id == org.org_id, AuditEvent.action.in_(
                ["quota.set", "service_permission.set"]), AuditEvent.actor != "seed")))
    assert limit == 77 and switch is False
    assert actors == {f"member:{org.admin_member_id}"}

    await ready(page)
    await row.locator(".toggle-permission button").click()  # turning on needs no confirmation
    await expect(page.locator(".notice")).to_have_text("The service was turned on.")
    await expect(row.locator("td.permission .badge")).to_have_text("on")


async def test_audit_log_filters_pages_and_exports(stack: Stack, page: Page) -> None:
    org = stack.seed(OrgShape(projects=22, datasets_per_project=0, records_per_dataset=0,
                              project_keys_per_project=0, usage_records=0, invoices=0))
    await stack.sign_in(page, org.admin_email)
    await page.click("header nav >> text=Audit log")
    await stack.timings.record(page, "audit log")
    with stack.sessions() as session:
        total = len(session.scalars(select(AuditEvent.id).where(
            AuditEvent.org_id == org.org_id)).all())
    assert total > 25  # more than one page
    rows = page.locator("#audit-table tbody tr")
    await expect(rows).to_have_count(25)
    ids = [int(i or 0) for i in await rows.evaluate_all(
        "rs => rs.map(r => r.dataset.eventId)")]
    assert ids == sorted(ids, reverse=True)
    await page.click("#next-page")
    await expect(rows).to_have_count(total - 25)

    await page.fill("input[name=action]", "project.created")
    await page.click("#audit-filter button")
    await expect(rows).to_have_count(22)
    await expect(rows.locator("td.action")).to_have_text(["project.created"] * 22)

    today = datetime.now(UTC).date()
    await page.fill("input[name=from]", (today + timedelta(days=1)).isoformat())
    await page.click("#audit-filter button")
    await expect(page.locator("#audit-table td.empty")).to_have_text("No events.")
    await page.fill("input[name=from]", today.isoformat())
    await page.fill("input[name=to]", (today - timedelta(days=1)).isoformat())
    await page.click("#audit-filter button")
    await expect(page.locator('.field-error[data-field="to"]')).to_contain_text("before")

    await page.fill("input[name=to]", today.isoformat())
    await page.click("#audit-filter button")
    await expect(rows).to_have_count(22)
    async with page.expect_download() as download:
        await page.click("#export-audit")
    path = await (await download.value).path()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["action"] for e in lines] == ["project.created"] * 22


async def test_a_member_reaches_neither_page(stack: Stack, page: Page) -> None:
    org = stack.seed(SHAPE)
    member = _member(stack, org.org_id)
    await stack.sign_in(page, member.email)
    await expect(page.locator("header nav >> text=Quotas")).to_have_count(0)
    for path in ("/console/quotas", "/console/audit", "/console/audit/export"):
        response = await page.goto(f"{stack.url}{path}")
        assert response is not None and response.status == 403, path
