"""Screenshots of every console page, for the README: `python -m bench.screenshots`.

Starts the whole product in this process (a Temporal dev server, a worker, the API on uvicorn,
`lifecycle dev`'s mail sink, a SQLite file in a temporary directory), seeds one org, signs in
through the mailed link as a person would and photographs each page in Debian's headless
Chromium. Writes `docs/console/<page>.png`; nothing else is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn
from playwright.async_api import Page, async_playwright
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import build_activities
from api.app import create_app
from clients.teardown import register_search_attributes
from core.binaries import temporal_cli
from core.settings import Settings
from lifecycle import devmail
from services.seeding import OrgShape, seed_org
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import PaymentMethod, PaymentStatus
from workflows import all_workflows

OUT = Path(__file__).resolve().parent.parent / "docs" / "console"
CHROMIUM = "/usr/bin/chromium"
LINK = re.compile(r"http://[^\s\"<>]+/console/signin/link\?token=[\w-]+")
SHAPE = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=40, members=4,
                 team_keys=3, project_keys_per_project=1, job_plans=2, usage_records=5,
                 invoices=2, unpaid_invoices=0, permissions_off=1)


async def _shoot(page: Page, name: str) -> None:
    await page.wait_for_load_state("load")
    await page.wait_for_selector("body[data-ready=yes]", state="attached")
    dialog_open = await page.evaluate("!!document.querySelector('dialog[open]')")
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=not dialog_open)
    print(f"  docs/console/{name}.png")


async def _signed_in(page: Page, url: str, email: str, sink: devmail.MailSink) -> None:
    await page.goto(f"{url}/console/signin")
    await page.fill("#email", email)
    await _shoot(page, "01-sign-in")
    await page.click("#send-link")
    await page.wait_for_selector("#sent-message")
    for _ in range(200):  # delivered at once by its own workflow
        if list(sink.directory.glob("*.eml")):
            break
        await asyncio.sleep(0.05)
    await page.goto(f"{url}/console/dev/mailbox")
    await _shoot(page, "02-dev-mailbox")
    link = LINK.findall(await page.content())[0]
    await page.goto(link)
    await page.click("#use-link")
    await page.wait_for_url(f"{url}/console/settings")


async def run(port: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"http://127.0.0.1:{port}"
        sink = devmail.start(data)
        database = f"sqlite:///{data / 'lifecycle.db'}"
        upgrade(database)
        settings = Settings(database_url=database, data_dir=data, console_url=url,
                            development=True, min_grace_seconds=0,
                            smtp_host=devmail.HOST, smtp_port=sink.port,
                            dev_mailbox_dir=str(sink.directory), teardown_grace_seconds=3600,
                            task_queue="screenshots", log_level="WARNING")
        sessions = make_session_factory(make_engine(database))
        with sessions.begin() as session:
            org = seed_org(session, SHAPE, settings.pepper_bytes, name="Acme Research")
            session.execute(update(PaymentMethod).values(status=PaymentStatus.UNAVAILABLE))
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli())
        await register_search_attributes(env.client)  # as the worker process does
        server = uvicorn.Server(uvicorn.Config(create_app(settings, env.client), port=port,
                                               log_level="warning"))
        serving = asyncio.create_task(server.serve())
        try:
            with ThreadPoolExecutor(8) as pool:
                async with Worker(env.client, task_queue=settings.task_queue,
                                  workflows=all_workflows(),
                                  activities=build_activities(settings, sessions),
                                  activity_executor=pool):
                    while not server.started:
                        await asyncio.sleep(0.05)
                    await _pages(url, org.admin_email, sink)
        finally:
            server.should_exit = True
            await serving
            await env.shutdown()
            sink.stop()


async def _pages(url: str, admin: str, sink: devmail.MailSink) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await _signed_in(page, url, admin, sink)
        await _shoot(page, "03-settings")
        await page.click("#change-card")
        await page.fill("#token", "4242 4242 4242 4242")
        await page.fill("#brand", "visa")
        await page.fill("#last4", "4242")
        await page.fill("#exp_month", "12")
        await page.fill("#exp_year", "2031")
        await page.click("#submit-card")
        await page.wait_for_selector("#card-dialog .field-error")
        await _shoot(page, "04-change-card-refused")
        await page.goto(f"{url}/console/keys")
        await _shoot(page, "05-api-keys")
        await page.click("#create-key")
        await page.fill("#key-name", "ci-deploy")
        await page.click("#create-submit")
        await page.wait_for_selector("#created-key")
        await _shoot(page, "06-api-key-created")
        await page.locator("tr", has=page.locator("td.name", has_text="ci-deploy")) \
            .get_by_role("button", name="Edit").click()
        await _shoot(page, "07-api-key-extend")
        await page.goto(f"{url}/console/keys")
        await page.locator("input.select-key").nth(0).check()
        await page.locator("input.select-key").nth(1).check()
        await page.click("#delete-selected")
        await _shoot(page, "08-api-keys-bulk-delete")
        await page.goto(f"{url}/console/projects")
        await _shoot(page, "12-projects")
        await page.goto(f"{url}/console/subscriptions")
        await page.locator("summary").first.click()
        await _shoot(page, "13-subscriptions")
        await page.goto(f"{url}/console/billing")
        await _shoot(page, "14-usage-and-billing")
        await page.goto(f"{url}/console/members")
        await _shoot(page, "15-members")
        await page.goto(f"{url}/console/quotas?service=virtual_compute")
        await _shoot(page, "16-quotas")
        await page.goto(f"{url}/console/audit")
        await _shoot(page, "17-audit-log")
        await page.goto(f"{url}/console/danger")
        await _shoot(page, "09-delete-organization")
        await page.fill("#confirm_name", "Acme Research")
        await page.click("#confirm-delete")
        await page.wait_for_selector("#countdown")
        await asyncio.sleep(1.2)  # one poll and one countdown tick
        await _shoot(page, "10-deletion-grace")
        await page.click("#delete-now")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#certificate", timeout=60_000)
        await _shoot(page, "11-deletion-certificate")
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="port for the API (local only)")
    asyncio.run(run(parser.parse_args().port))


if __name__ == "__main__":
    main()
