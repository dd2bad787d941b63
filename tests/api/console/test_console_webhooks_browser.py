"""The console's Webhooks page in real headless Chromium against the real stack (uvicorn, a
worker on the local Temporal dev server, PostgreSQL) and a real local HTTP receiver that
verifies every delivery with the reference `standardwebhooks` package.

The walk: add an endpoint -> its `whsec_` secret shown once -> send a test event, delivered
to the receiver and shown in the delivery log -> rotate (a new secret, shown once; the
receiver switches to it) -> another test event verified under the new secret -> disable and
enable -> delete.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from store.webhook_models import WebhookEndpoint
from tests.support.console_support import Stack, console_stack, ready
from tests.support.sweep_support import Hooks, webhook_receiver
from tests.support.teardown_support import eventually


@pytest.fixture(scope="module")
async def stack(postgres_url: str, local_temporal: WorkflowEnvironment,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    # plain http to this machine's receiver, as development allows; production refuses both
    async with console_stack(postgres_url, tmp_path_factory.mktemp("console-hooks"),
                             local_temporal.client, webhook_allow_http=True,
                             webhook_allowed_networks=["127.0.0.0/8"]) as running:
        yield running


@pytest.fixture
async def page(stack: Stack) -> AsyncIterator[Page]:
    context = await stack.browser.new_context()
    yield await context.new_page()
    await context.close()


async def _secret(page: Page) -> str:
    await expect(page.locator("#new-secret")).to_have_text(re.compile(r"^whsec_"))
    await expect(page.locator("#secret-warning")).to_contain_text("will not be shown again")
    return (await page.locator("#new-secret").text_content() or "").strip()


async def test_add_test_event_log_rotate_and_delete(stack: Stack, page: Page) -> None:
    org = stack.seed()
    hooks = Hooks(secret="whsec_" + "A" * 43 + "=")  # replaced by the console's secret below
    with webhook_receiver(hooks) as url:
        await stack.sign_in(page, org.admin_email)
        await page.click("nav >> text=Webhooks")
        await page.wait_for_url(f"{stack.url}/console/webhooks")
        await stack.timings.record(page, "webhooks")
        await expect(page.locator("#endpoints-table")).to_contain_text("No endpoints yet")

        await ready(page)
        await page.click("#add-endpoint")
        await page.fill("#hook-url", url)
        await page.fill("#hook-description", "alerts")
        await page.check("input[name=event_types][value='webhook.test']")
        await page.check("input[name=event_types][value='api_key.unused']")
        await page.click("#submit-endpoint")
        first = await _secret(page)
        hooks.secret = first
        await expect(page.locator("#endpoints-table")).to_contain_text(url)
        await expect(page.locator("#endpoints-table")).to_contain_text(
            "api_key.unused, webhook.test")
        await page.click("#open-created")
        await stack.timings.record(page, "webhook endpoint")
        assert first not in await page.content()  # shown once only
        await page.goto(f"{stack.url}/console/webhooks")
        assert first not in await page.content()

        await page.click(f"#endpoints-table >> text={url}")
        await page.wait_for_url(re.compile(r"/console/webhooks/\w+$"))
        endpoint_page = page.url
        await ready(page)
        await page.click("#send-test")
        await expect(page.locator(".notice")).to_contain_text("test event was sent")

        async def accepted() -> list[dict[str, object]]:
            return list(hooks.unique().values())

        got = await eventually(accepted, lambda a: len(a) == 1, timeout=15)
        assert got[0]["type"] == "webhook.test" and hooks.bad_signatures == 0

        async def logged() -> int:
            await page.reload()
            return await page.locator("#deliveries-table tr[data-event-type]").count()

        await eventually(logged, lambda n: n >= 1, timeout=15)
        row = page.locator("#deliveries-table tr[data-event-type='webhook.test']").first
        await expect(row.locator(".status-code")).to_have_text("200")
        await expect(row.locator(".attempt")).to_have_text("1")
        await expect(row.locator(".latency")).to_have_text(re.compile(r"^\d+ ms$"))
        await expect(row.locator(".next-retry")).to_have_text("—")

        await ready(page)
        await page.click("#rotate")
        await page.fill("#overlap-hours", "0")  # the old secret stops signing at once
        await page.click("#submit-rotate")
        second = await _secret(page)
        assert second != first
        hooks.secret = second  # the receiver switches; only the new secret's signature holds
        await page.goto(endpoint_page)  # a GET (a reload would post the rotation again)
        assert second not in await page.content()
        await ready(page)
        await page.click("#send-test")
        await expect(page.locator(".notice")).to_contain_text("test event was sent")
        await eventually(accepted, lambda a: len(a) == 2, timeout=15)
        assert hooks.bad_signatures == 0, hooks.headers

        await ready(page)
        await page.click("#toggle-enabled")
        await expect(page.locator("#endpoint-status")).to_have_text("disabled")
        await ready(page)
        await page.click("#toggle-enabled")
        await expect(page.locator("#endpoint-status")).to_have_text("enabled")

        await ready(page)
        await page.click("#delete-endpoint")
        await expect(page.locator("#confirm-dialog")).to_be_visible()
        await page.click("#confirm-ok")
        await expect(page.locator(".notice")).to_contain_text("endpoint was deleted")
        await expect(page.locator("#endpoints-table")).to_contain_text("No endpoints yet")
    with stack.sessions() as session:
        left = session.scalars(select(WebhookEndpoint.id)
                               .where(WebhookEndpoint.org_id == org.org_id)).all()
    assert left == []


async def test_a_bad_url_is_shown_in_the_form(
        stack: Stack, page: Page) -> None:
    org = stack.seed()
    await stack.sign_in(page, org.admin_email)
    await page.goto(f"{stack.url}/console/webhooks")
    await ready(page)
    await page.click("#add-endpoint")
    await page.fill("#hook-url", "ftp://files.example/hook")
    await page.click("#submit-endpoint")
    await expect(page.locator("#add-dialog .field-error")).to_be_visible()
    await expect(page.locator("#hook-url")).to_have_value("ftp://files.example/hook")
    assert "whsec_" not in await page.content()
