"""Helpers for console tests: signing in over HTTP or in a browser, the whole stack for the
browser tests, and page load times read from the browser's Navigation Timing."""

from __future__ import annotations

import asyncio
import re
import statistics
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from core.ports import free_port
from core.settings import Settings
from services.seeding import OrgShape, SeededOrg, seed_org
from store.db import make_engine, make_session_factory
from store.models import OutboxMessage
from tests.support.api_support import running_api
from tests.support.sweep_support import Inbox, smtp_server
from tests.support.teardown_support import eventually, teardown_worker

CHROMIUM = "/usr/bin/chromium"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"https?://\S+/console/signin/link\?token=[\w-]+")
SHAPE = OrgShape(projects=2, datasets_per_project=1, records_per_dataset=20, members=3,
                 team_keys=2, project_keys_per_project=1, job_plans=1, usage_records=2,
                 invoices=1, unpaid_invoices=0)


async def ready(page: Page) -> None:
    """Wait until the page's script has wired its buttons (a click before that does nothing)."""
    await page.wait_for_selector("body[data-ready=yes]", state="attached")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def latest_link(sessions: sessionmaker[Session], recipient: str) -> str:
    """The sign-in link of the newest mail queued for `recipient`, path and query only."""
    with sessions() as session:
        body = session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.recipient == recipient,
            OutboxMessage.idempotency_key.like("signin:%"))
            .order_by(OutboxMessage.id.desc())).first()
    assert body, f"no sign-in mail queued for {recipient}"
    match = LINK.search(body)
    assert match, body
    return "/console" + match.group().split("/console", 1)[1]


async def http_sign_in(client: httpx.AsyncClient, sessions: sessionmaker[Session],
                       email: str, cookie: str = "olc_session") -> None:
    """Sign `client` in as `email` through the mailed link (read from the outbox)."""
    form = await client.get("/console/signin")
    sent = await client.post("/console/signin",
                             data={"email": email, "csrf_token": csrf_of(form.text)})
    assert sent.status_code == 200, sent.text
    confirm = await client.get(latest_link(sessions, email))
    assert confirm.status_code == 200, confirm.text
    token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert token
    used = await client.post("/console/signin/link", data={
        "token": token.group(1), "csrf_token": csrf_of(confirm.text)})
    assert used.status_code == 303, used.text
    assert cookie in used.headers["set-cookie"], used.headers["set-cookie"]


# -- the browser tests' stack ---------------------------------------------------------------

REPORTS: list[str] = []  # printed at the end of the run (tests/api/console/conftest.py)


@dataclass
class Timings:
    """Page load times (ms, navigation start to the end of the load event) by page."""

    pages: dict[str, list[float]] = field(default_factory=dict)

    async def record(self, page: Page, name: str) -> None:
        # Not `wait_for_function`: while it polls, Playwright evaluates its predicate as a
        # string in the page, which the console's script-src CSP rightly refuses.
        await page.wait_for_load_state("load")
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            ms = await page.evaluate("(() => { const e = performance.getEntriesByType("
                                     "'navigation')[0]; return e.loadEventEnd > 0 ? "
                                     "e.loadEventEnd - e.startTime : null; })()")
            if ms is not None:
                break
            assert asyncio.get_running_loop().time() < deadline, f"{name} never finished loading"
            await asyncio.sleep(0.01)  # the load event's handlers are still running
        self.pages.setdefault(name, []).append(float(ms))

    def report(self) -> str:
        every = [ms for values in self.pages.values() for ms in values]
        if not every:
            return "no page loads measured"
        lines = [f"  {name:<22} median {statistics.median(v):6.1f} ms over {len(v)}"
                 for name, v in sorted(self.pages.items())]
        return (f"console page loads (Navigation Timing), median over all {len(every)}: "
                f"{statistics.median(every):.1f} ms\n" + "\n".join(lines))


@dataclass
class Stack:
    url: str
    settings: Settings
    sessions: sessionmaker[Session]
    inbox: Inbox
    browser: Browser
    timings: Timings

    def seed(self, shape: OrgShape = SHAPE) -> SeededOrg:
        with self.sessions.begin() as session:
            return seed_org(session, shape, self.settings.pepper_bytes)

    async def mailed_link(self, email: str, sent_before: int) -> str:
        """The sign-in link of the first mail to `email` after the `sent_before` first ones,
        delivered at once by its own workflow (no sweep runs here)."""
        async def arrived() -> list[str]:
            return [m.body for m in self.inbox.to(email)]

        bodies = await eventually(arrived, lambda got: len(got) > sent_before, timeout=15)
        match = LINK.search(bodies[sent_before])
        assert match, bodies[sent_before]
        return match.group()

    async def sign_in(self, page: Page, email: str) -> None:
        """Sign in through the sign-in page and the mailed link, as a person would."""
        before = len(self.inbox.to(email))
        await page.goto(f"{self.url}/console/signin")
        await self.timings.record(page, "sign-in")
        await page.fill("#email", email)
        await page.click("#send-link")
        await page.wait_for_selector("#sent-message")
        link = await self.mailed_link(email, before)
        await page.goto(link)
        await self.timings.record(page, "sign-in link")
        await page.click("#use-link")
        await page.wait_for_url(f"{self.url}/console/settings")
        await self.timings.record(page, "settings")


@asynccontextmanager
async def console_stack(postgres_url: str, data_dir: Path, temporal: Client,
                        **changes: Any) -> AsyncIterator[Stack]:
    """uvicorn serving the app, a worker on its own task queue, an SMTP server, PostgreSQL
    and one headless Chromium; `changes` are more settings of the API and the worker."""
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)
    async with AsyncExitStack() as stack:
        inbox, smtp_port = stack.enter_context(smtp_server())
        settings = Settings(database_url=postgres_url, data_dir=data_dir,
                            teardown_grace_seconds=3600, purge_batch_size=50,
                            smtp_host="127.0.0.1", smtp_port=smtp_port, **changes)
        queue = await stack.enter_async_context(teardown_worker(temporal, settings, sessions))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = settings.model_copy(update={"task_queue": queue, "console_url": url})
        await stack.enter_async_context(running_api(settings, temporal, port=port))
        playwright = await stack.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=["--no-sandbox"])
        stack.push_async_callback(browser.close)
        timings = Timings()
        yield Stack(url, settings, sessions, inbox, browser, timings)
        REPORTS.append(timings.report())
    engine.dispose()
