"""The console in real headless Chromium, against the whole stack: uvicorn, a worker on the
Temporal dev server, PostgreSQL and a real SMTP server.

One browser for the module, a fresh browser context (cookie jar) per person; each test seeds
its own org, so the tests share the stack and nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select, update
from temporalio.testing import WorkflowEnvironment

from core.cards import CARD_NUMBER_MESSAGE
from core.signing import verify
from store.console_models import SignInLink
from store.models import (
    ApiKey,
    Organization,
    OrgStatus,
    PaymentMethod,
    PaymentStatus,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from tests.support.console_support import Stack, console_stack, ready

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def stack(postgres_url: str, local_temporal: WorkflowEnvironment,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with console_stack(postgres_url, tmp_path_factory.mktemp("console"),
                             local_temporal.client) as running:
        yield running


@pytest.fixture
async def context(stack: Stack) -> AsyncIterator[BrowserContext]:
    ctx = await stack.browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def test_sign_in_by_mailed_link_once_then_sign_out(stack: Stack, context: BrowserContext,
                                                        page: Page) -> None:
    org = stack.seed()
    await stack.sign_in(page, org.admin_email)
    await expect(page.locator("header .org")).to_have_text(org.name)

    [cookie] = [c for c in await context.cookies() if c["name"] == "olc_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    assert len(cookie["value"]) >= 43  # 32 random bytes, URL-safe base64
    response = await page.goto(f"{stack.url}/console/settings")
    assert response is not None
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"

    # the link that signed us in is used up
    link = await stack.mailed_link(org.admin_email, 0)
    refused = await page.goto(link)
    assert refused is not None and refused.status == 400
    await expect(page.locator("h1")).to_have_text("This sign-in link is not valid")

    await page.goto(f"{stack.url}/console/settings")
    await page.click("#sign-out")
    await page.wait_for_url(re.compile(r"/console/signin\?signed_out=1$"))
    await page.goto(f"{stack.url}/console/settings")
    await page.wait_for_url(re.compile(r"/console/signin$"))


async def test_an_expired_link_is_refused(stack: Stack, page: Page) -> None:
    org = stack.seed()
    await page.goto(f"{stack.url}/console/signin")
    await page.fill("#email", org.admin_email)
    await page.click("#send-link")
    await page.wait_for_selector("#sent-message")
    link = await stack.mailed_link(org.admin_email, 0)
    with stack.sessions.begin() as session:
        session.execute(update(SignInLink).where(SignInLink.org_id == org.org_id)
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    refused = await page.goto(link)
    assert refused is not None and refused.status == 400
    await expect(page.locator(".detail")).to_contain_text("expired")


async def test_keys_create_copy_extend_delete_and_bulk_delete(stack: Stack, page: Page) -> None:
    org = stack.seed()
    await stack.sign_in(page, org.admin_email)
    await page.goto(f"{stack.url}/console/keys")
    await stack.timings.record(page, "api keys")
    await expect(page.locator("#keys-table tbody tr")).to_have_count(4)  # 2 team, 2 project

    async def create(name: str) -> str:
        await ready(page)
        await page.click("#create-key")
        await page.fill("#key-name", name)
        await page.click("#create-submit")
        await expect(page.locator("#created-key")).to_be_visible()
        return (await page.locator("#new-secret").text_content() or "").strip()

    await ready(page)
    await page.click("#create-key")
    await page.fill("#key-name", "ingest")
    await page.select_option("#key-project", label="Project key: project-0")
    await page.click("#create-submit")
    await expect(page.locator("#new-secret")).to_have_text(re.compile(r"^olp_"))
    project_row = page.locator("tr", has=page.locator("td.name", has_text="ingest"))
    await expect(project_row.locator("td").nth(4)).to_have_text("project")
    await expect(project_row.locator("td").nth(5)).to_have_text("project-0")

    secret = await create("ci-deploy")
    assert secret.startswith("olt_")
    await expect(page.locator("#secret-warning")).to_contain_text("will not be shown again")
    await ready(page)
    await page.click("#copy-secret")
    await expect(page.locator("#copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await page.goto(f"{stack.url}/console/keys")
    assert secret not in await page.content()  # shown once only

    row = page.locator("tr", has=page.locator("td.name", has_text="ci-deploy"))
    await ready(page)
    before = datetime.strptime(await row.locator(".expires").inner_text(),
                               "%Y-%m-%d %H:%M UTC")
    await row.get_by_role("button", name="Edit").click()
    await row.locator("input[name=days]").fill("30")
    await row.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".notice")).to_contain_text("extended")
    after = datetime.strptime(await row.locator(".expires").inner_text(), "%Y-%m-%d %H:%M UTC")
    assert after - before == timedelta(days=30)

    await ready(page)
    await row.get_by_role("button", name="Delete").click()
    await expect(page.locator("#confirm-dialog")).to_be_visible()
    await page.click("#confirm-ok")
    await expect(page.locator(".notice")).to_contain_text("1 key(s) deleted")
    await expect(row).to_have_count(0)

    await create("batch-a")
    await create("batch-b")
    await ready(page)
    for name in ("batch-a", "batch-b"):
        await page.locator("tr", has=page.locator("td.name", has_text=name)) \
            .locator("input.select-key").check()
    await page.click("#delete-selected")  # enabled only once the script counted the boxes
    await expect(page.locator("#bulk-phrase")).to_have_text("DELETE 2 KEYS")
    await page.fill("#bulk-confirm", "DELETE 2")
    await page.click("#bulk-submit")
    await expect(page.locator("#bulk-dialog .field-error")).to_contain_text(
        'type "DELETE 2 KEYS" to confirm')
    await page.fill("#bulk-confirm", "DELETE 2 KEYS")
    await page.click("#bulk-submit")
    await expect(page.locator(".notice")).to_contain_text("2 key(s) deleted")
    with stack.sessions() as session:
        names = set(session.scalars(select(ApiKey.name).where(ApiKey.org_id == org.org_id)))
    assert not names & {"ci-deploy", "batch-a", "batch-b"}


async def test_change_the_card_and_a_card_number_is_refused(stack: Stack, page: Page) -> None:
    org = stack.seed()
    with stack.sessions.begin() as session:
        session.execute(update(PaymentMethod).where(PaymentMethod.org_id == org.org_id)
                        .values(status=PaymentStatus.UNAVAILABLE))
    await stack.sign_in(page, org.admin_email)
    await expect(page.locator("#payment-banner")).to_contain_text("Check your payment settings")

    await ready(page)
    await page.click("#change-card")
    await page.fill("#token", "4242 4242 4242 4242")
    await page.fill("#brand", "visa")
    await page.fill("#last4", "4242")
    await page.fill("#exp_month", "12")
    await page.fill("#exp_year", "2031")
    await page.click("#submit-card")
    error = page.locator("#card-dialog .field-error[data-field=token]")
    await expect(error).to_contain_text(CARD_NUMBER_MESSAGE)
    await expect(error).to_contain_text("A card number was sent")
    assert "4242 4242" not in await page.content()  # never echoed back

    await page.fill("#token", "tok_visa_2031")
    await page.fill("#last4", "4242")
    await page.click("#submit-card")
    await expect(page.locator(".notice")).to_have_text("The credit card was changed.")
    await expect(page.locator("#card-masked")).to_have_text("**** 4242")
    await expect(page.locator("#payment-banner")).to_have_count(0)
    with stack.sessions() as session:
        card = session.scalars(select(PaymentMethod).where(
            PaymentMethod.org_id == org.org_id)).one()
    assert (card.provider_token, card.exp_year, card.status) == (
        "tok_visa_2031", 2031, PaymentStatus.VALID)


async def test_a_form_without_its_csrf_token_is_refused(stack: Stack, context: BrowserContext,
                                                       page: Page) -> None:
    org = stack.seed()
    await stack.sign_in(page, org.admin_email)
    response = await context.request.post(f"{stack.url}/console/settings/basic",
                                           form={"name": "Renamed by a forged form"})
    assert response.status == 403
    assert "Missing or wrong CSRF token" in await response.text()
    with stack.sessions() as session:
        assert session.get(Organization, org.org_id).name == org.name  # type: ignore[union-attr]


async def test_a_member_sees_no_danger_zone_and_cannot_reach_it(stack: Stack,
                                                               page: Page) -> None:
    org = stack.seed()
    member_email = next(e for e in org.emails if e != org.admin_email)
    await stack.sign_in(page, member_email)
    await expect(page.locator("#admin-account")).to_be_visible()
    await expect(page.locator("#danger-zone")).to_have_count(0)
    await expect(page.get_by_role("link", name="Danger zone")).to_have_count(0)
    refused = await page.goto(f"{stack.url}/console/danger")
    assert refused is not None and refused.status == 403
    await expect(page.locator(".detail")).to_have_text("only the organization's admin can "
                                                       "delete it")


async def test_delete_the_organization_cancel_then_for_good(stack: Stack, page: Page) -> None:
    org = stack.seed()
    await stack.sign_in(page, org.admin_email)
    await page.click("#delete-org")
    await page.wait_for_url(f"{stack.url}/console/danger")
    await stack.timings.record(page, "delete organization")
    await expect(page.locator("#plan-counts")).to_contain_text("dataset records")
    await expect(page.locator("#blockers [data-code=active_job_plans]")).to_contain_text(
        "will be cancelled")
    # when it would happen, started now: the default window, and the soonest with expedite
    await expect(page.locator("#deletion-at")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d "
                                                                      r"\d\d:\d\d UTC$"))
    await expect(page.locator("#earliest-deletion-at")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))

    await page.fill("#confirm_name", org.name + " (no)")
    await page.click("#confirm-delete")
    await expect(page.locator(".field-error[data-field=confirm_name]")).to_contain_text(
        "does not match")

    async def start() -> None:
        await page.fill("#confirm_name", org.name)
        await page.click("#confirm-delete")
        await page.wait_for_url(re.compile(r"/console/teardown/olc_"))
        await stack.timings.record(page, "deletion progress")
        await expect(page.locator("#teardown-status")).to_have_text("grace")
        await expect(page.locator("#countdown")).to_have_text(re.compile(r"\d+m \d+s"))

    await start()
    await ready(page)
    await page.click("#cancel-deletion")
    await page.click("#confirm-ok")
    await expect(page.locator("#after-cancel")).to_contain_text("active again")
    await expect(page.locator("#teardown-status")).to_have_text("cancelled")
    with stack.sessions() as session:
        assert session.get(Organization, org.org_id).status is OrgStatus.ACTIVE  # type: ignore[union-attr]

    await page.goto(f"{stack.url}/console/danger")
    await start()
    watch = page.url
    await ready(page)
    await page.click("#delete-now")
    await page.click("#confirm-ok")
    await expect(page.locator("#certificate")).to_be_visible(timeout=60_000)
    await expect(page.locator("#teardown-status")).to_have_text("completed")
    await expect(page.locator("#percent")).to_have_text("100.0%")
    shown = json.loads(await page.locator("#certificate-json").inner_text())
    assert shown["org_id"] == org.org_id and shown["verification"]
    assert all(n == 0 for n in shown["verification"].values())
    download = await page.request.get(f"{watch}/certificate.json")
    assert download.ok and "attachment" in download.headers["content-disposition"]
    # the download is the signed document: it verifies offline and says what the page says
    signed, _ = verify(await download.body(), stack.settings.certificate_keys)
    assert (signed["certificate_id"], signed["counts"]) == (shown["id"], shown["counts"])

    # the teardown removed the admin with the org: the session is over, the link still works
    await page.goto(f"{stack.url}/console/settings")
    await page.wait_for_url(re.compile(r"/console/signin$"))
    await page.goto(watch)
    await expect(page.locator("#certificate")).to_be_visible()


async def test_projects_create_and_delete_with_progress(stack: Stack, page: Page) -> None:
    org = stack.seed()
    await stack.sign_in(page, org.admin_email)
    await page.goto(f"{stack.url}/console/projects")
    await stack.timings.record(page, "projects")
    await ready(page)
    await page.click("#create-project")
    await page.fill("#project-name", "genomics")
    await page.click("#create-project-submit")
    await expect(page.locator(".notice")).to_have_text("Project created.")
    row = page.locator("tr", has=page.locator("td.name", has_text="genomics"))
    await expect(row).to_have_count(1)

    await ready(page)
    await row.get_by_role("button", name="Delete").click()
    await row.locator("input[name=confirm_name]").fill("genomic")
    await row.get_by_role("button", name="Delete project").click()
    await expect(page.locator(".field-error[data-field=confirm_name]")).to_be_visible()
    row = page.locator("tr", has=page.locator("td.name", has_text="genomics"))
    await row.locator("input[name=confirm_name]").fill("genomics")
    await row.get_by_role("button", name="Delete project").click()
    await page.wait_for_url(re.compile(r"/console/projects/\w+/deletion$"))
    await stack.timings.record(page, "project deletion")
    await expect(page.locator("#teardown-status")).to_have_text(re.compile("grace|pending"))
    await ready(page)
    await page.click("#delete-now")
    await page.click("#confirm-ok")
    await expect(page.locator("#certificate")).to_be_visible(timeout=60_000)
    await expect(page.locator("#teardown-status")).to_have_text("completed")
    await page.goto(f"{stack.url}/console/projects")
    await expect(page.locator("td.name", has_text="genomics")).to_have_count(0)


async def test_unsubscribe_a_job_plan_and_the_workspace_capacity(stack: Stack,
                                                                 page: Page) -> None:
    org = stack.seed()
    await stack.sign_in(page, org.admin_email)
    await page.goto(f"{stack.url}/console/subscriptions")
    await stack.timings.record(page, "subscriptions")
    await ready(page)
    row = page.locator("#subscriptions-table tbody tr", has=page.locator("summary"))
    await expect(row).to_have_count(1)  # the seeded job plan
    await row.locator("summary").click()
    await row.get_by_role("button", name="Unsubscribe").click()
    await page.click("#confirm-ok")
    await expect(page.locator(".notice")).to_contain_text(re.compile("unsubscribed|under way"))
    with stack.sessions() as session:
        statuses = set(session.scalars(select(Subscription.status).where(
            Subscription.org_id == org.org_id, Subscription.kind == SubscriptionKind.JOB_PLAN)))
    assert statuses == {SubscriptionStatus.CANCELLED}

    await page.goto(f"{stack.url}/console/billing")
    await stack.timings.record(page, "usage & billing")
    await expect(page.locator("#invoices tbody tr")).to_have_count(1)
    await expect(page.locator("#usage tbody tr")).to_have_count(2)
    await ready(page)
    await page.click("#cancel-capacity")
    await page.click("#confirm-ok")
    await expect(page.locator("#no-capacity")).to_be_visible()
