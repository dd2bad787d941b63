"""Helpers for sweep tests: a real SMTP server, a real webhook receiver, a sweep worker, seeds.

The receivers are the real thing on free local ports: `aiosmtpd` speaking SMTP, and
`http.server` checking the HMAC signature the way a customer's endpoint would.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.delivery import AfterSend, DeliveryActivities
from activities.digests import DigestActivities
from activities.sweep import SweepClaimActivities
from contracts.sweep import SweepInput, SweepResult
from core import keyformat
from core.settings import Settings
from services.seeding import BARE_ORG, SeededOrg, seed_org
from store.base import new_id
from store.models import ApiKey, KeyScope, Member, Organization, OrgStatus
from tests.support.ports import free_port
from workflows.sweep import KeyExpirySweepWorkflow

# -- SMTP ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    message_id: str
    subject: str
    body: str


@dataclass
class Inbox:
    """What the SMTP server accepted, in order; `unique()` is a receiver deduping Message-IDs.

    Addresses in `refuse` are refused at RCPT TO with 550, as a server without such a mailbox.
    """

    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_content() if not msg.is_multipart() else ""
        with self.lock:
            self.mails.append(Mail(tuple(envelope.rcpt_tos), str(msg["Message-ID"]),
                                   str(msg["Subject"]), str(body)))
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
    """A customer's endpoint: verifies every request, optionally refuses the first few
    correctly signed ones (503) as an endpoint that is briefly down would."""

    secret: str
    refuse_first: int = 0
    refuse_status: int = 503  # what a refused, correctly signed call is answered
    accepted: list[dict[str, Any]] = field(default_factory=list)
    delivery_ids: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, headers: Any, body: bytes) -> bool:
        timestamp = headers.get("X-Lifecycle-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("X-Lifecycle-Signature", ""))


@contextmanager
def webhook_receiver(hooks: Hooks) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with hooks.lock:
                hooks.requests += 1
                if not hooks.verify(self.headers, body):
                    hooks.bad_signatures += 1
                    status = 401
                elif hooks.refuse_first > 0:  # a correctly signed call, refused while "down"
                    hooks.refuse_first -= 1
                    status = hooks.refuse_status
                else:
                    hooks.delivery_ids.append(self.headers["X-Lifecycle-Delivery"])
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


# -- worker and sweeps -----------------------------------------------------------------------

@asynccontextmanager
async def sweep_worker(client: Client, settings: Settings, sessions: sessionmaker[Session],
                       after_send: AfterSend | None = None) -> AsyncIterator[str]:
    """The real sweep workflow and activities on a fresh task queue; yields the queue."""
    queue = f"sweep-test-{uuid.uuid4().hex[:8]}"
    acts = [*SweepClaimActivities(sessions).all(), *DigestActivities(sessions).all(),
            *DeliveryActivities(sessions, settings, after_send).all()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        async with Worker(client, task_queue=queue, workflows=[KeyExpirySweepWorkflow],
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
             webhook: tuple[str, str] | None = None, name: str | None = None) -> Org:
    with sessions.begin() as session:
        seeded = seed_org(session, BARE_ORG, settings.pepper_bytes, name=name)
        if webhook:
            session.execute(update(Organization).where(Organization.id == seeded.org_id)
                            .values(webhook_url=webhook[0], webhook_secret=webhook[1]))
        ids = dict(session.execute(select(Member.email, Member.id)
                                   .where(Member.org_id == seeded.org_id)).all())
        # the first non-admin reads mail in Taipei: the digest must show +08:00 for them
        session.execute(update(Member).where(Member.id == ids[seeded.emails[1]])
                        .values(timezone="Asia/Taipei"))
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
