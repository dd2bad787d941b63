"""A mail goes out as the bytes its header check read: byte for byte what `send_message` would
send, flattened once; an address that needs SMTPUTF8 still goes through `send_message`, which
negotiates it."""

from __future__ import annotations

import email.generator
import smtplib
from collections.abc import Sequence
from typing import Any

import pytest

from activities.channels import Channels, build_email, wire_form
from core.settings import Settings

SENDER = "lifecycle@localhost"
BODIES = [
    "Hello,\n\n- key \"deploy\" expires soon\n",
    "From the start of a line\nFrom again, and . a dot\n.\n",  # mangled the same both ways
    "Grüße aus Zürich\n" + "a long line " * 40 + "\n",
]


class Recording(smtplib.SMTP):
    """An SMTP client that records what it would send instead of connecting anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.ehlo_resp = b"recording"  # as if greeted: nothing to say first
        self.esmtp_features = {"smtputf8": ""}
        self.sent: list[tuple[str, list[str], bytes, tuple[str, ...]]] = []

    def sendmail(self, from_addr: str, to_addrs: str | Sequence[str], msg: Any,
                 mail_options: Sequence[str] = (),
                 rcpt_options: Sequence[str] = ()) -> dict[str, tuple[int, bytes]]:
        assert isinstance(msg, bytes)
        self.sent.append((from_addr, list(to_addrs), msg, tuple(mail_options)))
        return {}


@pytest.mark.parametrize("body", BODIES)
def test_the_checked_bytes_are_the_ones_send_message_sends(body: str) -> None:
    msg, to = build_email(SENDER, "kx:s:o:1:email:d", "a@example.com", "[Org] Keys", body)
    smtp = Recording()
    smtp.send_message(msg, from_addr=SENDER, to_addrs=[to])
    [(_, _, sent, options)] = smtp.sent
    assert sent == wire_form(msg) and options == ()


@pytest.mark.parametrize(("recipient", "options", "flattened"), [
    ("a@example.com", (), 1),
    ("a@bücher.example", ("SMTPUTF8", "BODY=8BITMIME"), 2),
])
def test_a_mail_is_sent_as_checked_unless_its_address_needs_smtputf8(
        monkeypatch: pytest.MonkeyPatch, recipient: str, options: tuple[str, ...],
        flattened: int) -> None:
    smtp = Recording()
    channels = Channels(Settings(mail_sender=SENDER))
    monkeypatch.setattr(channels, "_smtp_session", lambda: smtp)
    flattens = []
    real = email.generator.BytesGenerator.flatten

    def counted(self: email.generator.BytesGenerator, *args: Any, **kwargs: Any) -> None:
        flattens.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(email.generator.BytesGenerator, "flatten", counted)
    channels.send_email("kx:s:o:1:email:d", recipient, "[Org] Keys", BODIES[1])
    assert len(flattens) == flattened  # the check's, then `send_message`'s own if it is used
    monkeypatch.undo()
    msg, to = build_email(SENDER, "kx:s:o:1:email:d", recipient, "[Org] Keys", BODIES[1])
    [(sender, envelope, sent, used)] = smtp.sent
    assert (sender, envelope, used) == (SENDER, [to], options)
    if not options:
        assert sent == wire_form(msg)
