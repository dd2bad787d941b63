"""Nothing user-written can add a mail header: line breaks are refused where names are written,
and every header is built by the `email` package, checked here at a real SMTP server.

An org name with CR/LF (`"Acme\\r\\nBcc: attacker@evil.example"`) was stored with a 200, and the
sweep then failed building the subject of the org's reminder mail.
"""

from __future__ import annotations

import email
import email.policy
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.channels import Channels
from activities.delivery_errors import DeliveryError
from activities.digest_text import Item, email_subject
from core.ports import free_port
from core.settings import Settings
from store.base import utcnow
from store.models import Organization
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys
from tests.support.db_snapshot import changed, fingerprint

INJECTED = "Bcc: attacker@evil.example"
LINE_BREAKS = ["\r\n", "\n", "\r", "\u2028", "\x85", "\x0b", "\t"]


@dataclass
class RawInbox:
    """Each accepted message as the server got it: envelope recipients and raw bytes."""

    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp() -> Iterator[tuple[RawInbox, int]]:
    inbox, port = RawInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_line_breaks_are_refused_in_every_name_like_field(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    async with api_client(api_settings(settings)) as api:
        before = fingerprint(session_factory)
        answers = []
        for brk in LINE_BREAKS:
            answers += [
                await api.patch(f"/orgs/{org_id}", headers=admin,
                                json={"name": f"Acme{brk}{INJECTED}"}),
                await api.patch(f"/orgs/{org_id}", headers=admin,
                                json={"contact_email": f"a@acme.example{brk}{INJECTED}"}),
                await api.post(f"/orgs/{org_id}/keys", headers=admin,
                               json={"name": f"ci{brk}{INJECTED}", "expires_in_days": 30}),
                await api.post(f"/orgs/{org_id}/projects", headers=admin,
                               json={"name": f"p{brk}{INJECTED}"}),
            ]
        after = fingerprint(session_factory)
    for answer in answers:
        problem(answer, 422)
    assert set(changed(before, after)) <= {"api_keys"}  # the admin key's last use, no more


def _digest_item() -> Item:
    return Item(kind="api_key", subject_id=uuid.uuid4().hex, window="7d",
                due_at=utcnow() + timedelta(days=3), label="ci", detail="olt_AbCdEfGh, team key",
                facts={})


async def test_a_hostile_one_line_name_stays_inside_its_header_at_a_real_smtp_server(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    hostile = f"Acme {INJECTED} Größe \u202e"
    # an encoded word that would decode to a line break: still text inside the Subject
    encoded_word = "=?utf-8?q?=0D=0ABcc:_attacker@evil.example?="
    async with api_client(api_settings(settings)) as api:
        saved = await api.patch(f"/orgs/{org_id}", headers=admin, json={"name": hostile})
    assert saved.status_code == 200, saved.text
    with session_factory() as session:
        name = session.scalars(select(Organization.name).where(Organization.id == org_id)).one()
    subject = email_subject(name, [_digest_item()])
    recipient = "admin@acme.example"
    with smtp() as (inbox, port):
        mail = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
        with Channels(mail) as channels:
            channels.send_email(f"digest:{uuid.uuid4().hex}", recipient, subject, "hello")
            channels.send_email(f"digest:{uuid.uuid4().hex}", recipient,
                                email_subject(encoded_word, [_digest_item()]), "hello")
            # a row written before names were checked: refused whole, nothing is sent
            with pytest.raises(DeliveryError) as refused:
                channels.send_email(f"digest:{uuid.uuid4().hex}", recipient,
                                    f"[Acme\r\n{INJECTED}] Keys", "hello")
            assert refused.value.permanent
    assert len(inbox.received) == 2
    for envelope, raw in inbox.received:
        assert envelope == [recipient]
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert sorted(message.keys()) == sorted(
            ["From", "To", "Subject", "Message-ID", "Content-Type", "Content-Transfer-Encoding",
             "MIME-Version"])
        assert message["Bcc"] is None and message.get_all("To") == [recipient]
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert not any(line.lower().startswith(b"bcc:") for line in head.split(b"\r\n"))
    first = email.message_from_bytes(inbox.received[0][1], policy=email.policy.default)
    assert str(first["Subject"]) == subject  # decoded back to exactly what was meant
