"""Helpers for sweep tests: a real SMTP server, a real webhook receiver, a sweep worker, seeds.

The receivers are the real thing on free local ports: `aiosmtpd` speaking SMTP, and
`http.server` verifying every delivery with the reference `standardwebhooks` package, the way a
customer's endpoint would.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.delivery import AfterSend, DeliveryActivities
from activities.digests import DigestActivities
from activities.sweep import SweepClaimActivities
from clients.outbox import blocking_starter
from contracts.sweep import SweepInput, SweepResult
from core import keyformat, secretbox, standard_webhooks
from core.ports import free_port
from core.settings import Settings
from services.seeding import BARE_ORG, SeededOrg, seed_org
from store import webhooks
from store.base import new_id
from store.models import ApiKey, KeyScope, Member, Organization, OrgStatus
from workflows.outbox import OutboxDeliveryWorkflow
from workflows.sweep import KeyExpirySweepWorkflow

# -- SMTP ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    message_id: str
    subject: str
    body: str
    connection: int = 0  # which SMTP session brought it, numbered from 1 in order of arrival


@dataclass
class Inbox:
    """What the SMTP server accepted, in order; `unique()` is a receiver deduping Message-IDs.

    Addresses in `refuse` are refused at RCPT TO with 550, as a server without such a mailbox;
    an address in `defer_once` gets a 451 (try again later) at RCPT TO the first time only, a
    deferral of that recipient; one in `fail_once` a 451 at DATA, the server failing the mail.
    """

    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: set[str] = field(default_factory=set)
    defer_once: set[str] = field(default_factory=set)
    fail_once: set[str] = field(default_factory=set)
    connections: int = 0  # SMTP sessions that delivered at least one mail

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        with self.lock:
            if address in self.defer_once:
                self.defer_once.discard(address)
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            failing = self.fail_once & set(envelope.rcpt_tos)
            self.fail_once -= failing
        if failing:
            return "451 4.3.0 Local error in processing"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_content() if not msg.is_multipart() else ""
        with self.lock:
            connection = getattr(session, "inbox_connection", 0)
            if not connection:  # the session's first mail
                self.connections += 1
                connection = session.inbox_connection = self.connections
            self.mails.append(Mail(tuple(envelope.rcpt_tos), str(msg["Message-ID"]),
                                   str(msg["Subject"]), str(body), connection))
        return "250 Message accepted for delivery"

    def all(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)

    def unique(self) -> dict[str, Mail]:
        return {m.message_id: m for m in self.all()}

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.unique().values() if address in m.to]


@contextmanager
def smtp_server(port: int | None = None, inbox: Inbox | None = None
                ) -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on `port` (a free one by default), collecting into `inbox`."""
    inbox = inbox or Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


# -- webhooks --------------------------------------------------------------------------------

@dataclass
class Hooks:
    """A customer's endpoint: every request is verified by the reference `standardwebhooks`
    package (never by our code) under `secret`; optionally the first few correctly signed
    ones are refused (`refuse_status`), as an endpoint that is briefly down would."""

    secret: str
    refuse_first: int = 0
    refuse_status: int = 503  # what a refused, correctly signed call is answered
    accepted: list[dict[str, Any]] = field(default_factory=list)
    delivery_ids: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # of every request
    bodies: list[bytes] = field(default_factory=list)  # of every request, as received
    bad_signatures: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        try:
            Webhook(self.secret).verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True

    def unique(self) -> dict[str, dict[str, Any]]:
        """What a receiver deduping on `webhook-id` keeps."""
        with self.lock:
            return dict(zip(self.delivery_ids, self.accepted, strict=True))


@contextmanager
def webhook_receiver(hooks: Hooks) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with hooks.lock:
                hooks.requests += 1
                hooks.headers.append(headers)
                hooks.bodies.append(body)
                if not hooks.verify(headers, body):
                    hooks.bad_signatures += 1
                    status = 401
                elif hooks.refuse_first > 0:  # a correctly signed call, refused while "down"
                    hooks.refuse_first -= 1
                    status = hooks.refuse_status
                else:
                    hooks.delivery_ids.append(headers["webhook-id"])
                    hooks.accepted.append(json.loads(body))
                    status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/keys"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def local_webhooks(settings: Settings, **changes: Any) -> Settings:
    """Settings that let webhooks reach this machine's receivers (plain http on loopback),
    as development does; production refuses both."""
    return settings.model_copy(update={"webhook_allow_http": True,
                                       "webhook_allowed_networks": ["127.0.0.0/8"], **changes})


def add_endpoint(sessions: sessionmaker[Session], settings: Settings, org_id: str, url: str,
                 secret: str | None = None, event_types: Sequence[str] = ()) -> str:
    """An endpoint of the org signing with `secret` (a fresh one by default); its id."""
    endpoint_id = new_id()
    sealed = secretbox.seal(settings.webhook_secret_key.get_secret_value(),
                            secret or standard_webhooks.new_secret(), endpoint_id)
    with sessions.begin() as session:
        webhooks.add_endpoint(session, org_id=org_id, url=url, description="",
                              event_types=list(event_types), sealed=sealed,
                              endpoint_id=endpoint_id, created_by="test")
    return endpoint_id


# -- worker and sweeps -----------------------------------------------------------------------

@asynccontextmanager
async def sweep_worker(client: Client, settings: Settings, sessions: sessionmaker[Session],
                       after_send: AfterSend | None = None) -> AsyncIterator[str]:
    """The real sweep workflow and activities on a fresh task queue, with the at-once
    delivery workflow (webhooks wait out their backoff there); yields the queue."""
    queue = f"sweep-test-{uuid.uuid4().hex[:8]}"
    start = blocking_starter(client, queue)
    acts = [*SweepClaimActivities(sessions).all(), *DigestActivities(sessions).all(),
            *DeliveryActivities(sessions, settings, after_send, start).all()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        async with Worker(client, task_queue=queue,
                          workflows=[KeyExpirySweepWorkflow, OutboxDeliveryWorkflow],
                          activities=acts, activity_executor=pool,
                          max_concurrent_activities=8):
            yield queue


async def run_sweep(client: Client, queue: str, now: datetime, **kw: Any) -> SweepResult:
    result: SweepResult = await client.execute_workflow(
        KeyExpirySweepWorkflow.run, SweepInput(now=now, **kw),
        id=f"sweep-{uuid.uuid4().hex[:8]}", task_queue=queue)
    return result


# -- data ------------------------------------------------------------------------------------

@dataclass
class Org:
    seeded: SeededOrg
    member_ids: dict[str, str]  # email -> member id

    @property
    def id(self) -> str:
        return self.seeded.org_id

    @property
    def admin(self) -> str:
        return self.seeded.admin_email

    @property
    def others(self) -> list[str]:
        return [e for e in self.seeded.emails if e != self.admin]


def make_org(sessions: sessionmaker[Session], settings: Settings, *,
             webhook: tuple[str, str] | None = None, name: str | None = None,
             stored_name: str | None = None) -> Org:
    """A bare org; `webhook` is (url, secret) of an endpoint taking every event.
    `stored_name` is written past the name rule, as a row from before the rule would hold it."""
    with sessions.begin() as session:
        seeded = seed_org(session, BARE_ORG, settings.pepper_bytes, name=name)
        if stored_name is not None:
            session.execute(update(Organization).where(Organization.id == seeded.org_id)
                            .values(name=stored_name))
        ids = dict(session.execute(select(Member.email, Member.id)
                                   .where(Member.org_id == seeded.org_id)).all())
        # the first non-admin reads mail in Taipei: the digest must show +08:00 for them
        session.execute(update(Member).where(Member.id == ids[seeded.emails[1]])
                        .values(timezone="Asia/Taipei"))
    if webhook:
        add_endpoint(sessions, settings, seeded.org_id, webhook[0], webhook[1])
    return Org(seeded, ids)


def add_key(sessions: sessionmaker[Session], org: Org, expires_at: datetime, *,
            creator: str | None = None, project: bool = False, name: str = "") -> str:
    """A live key; `creator` is an email of the org (None: created by a departed member)."""
    made = keyformat.generate("project" if project else "team", b"p" * 32)
    key_id = new_id()
    with sessions.begin() as session:
        session.execute(insert(ApiKey).values(
            id=key_id, org_id=org.id, scope=KeyScope.PROJECT if project else KeyScope.TEAM,
            project_id=org.seeded.project_ids[0] if project else None,
            name=name or f"key-{key_id[:6]}", prefix=made.prefix,
            secret_hash=made.secret_hash,
            created_by=org.member_ids[creator] if creator else None,
            created_at=expires_at.replace(year=expires_at.year - 1), expires_at=expires_at))
    return key_id


def set_org_status(sessions: sessionmaker[Session], org: Org, status: OrgStatus) -> None:
    with sessions.begin() as session:
        session.execute(update(Organization).where(Organization.id == org.id)
                        .values(status=status))


@asynccontextmanager
async def delivery_worker(client: Client, settings: Settings,
                          sessions: sessionmaker[Session]) -> AsyncIterator[None]:
    """The at-once delivery workflow and its activities on `settings.task_queue`, where the
    API starts deliveries (give each test a queue of its own)."""
    start = blocking_starter(client, settings.task_queue)
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(client, task_queue=settings.task_queue,
                          workflows=[OutboxDeliveryWorkflow],
                          activities=DeliveryActivities(sessions, settings,
                                                        start_delivery=start).all(),
                          activity_executor=pool, max_concurrent_activities=4):
            yield


async def skip_until_done(env: WorkflowEnvironment, workflow_id: str,
                          step: timedelta = timedelta(hours=1), steps: int = 200) -> Any:
    """The result of a workflow that waits on timers (a webhook's backoff): the time-skipping
    server's clock is moved on `step` at a time until the workflow has ended."""
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(steps):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return await handle.result()
        await env.sleep(step)
    raise AssertionError(f"{workflow_id} still running after {steps * step} of server time")
