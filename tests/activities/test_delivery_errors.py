"""What counts as transient or permanent, and mail headers nothing user-written can add to."""

from __future__ import annotations

import email
import email.policy
import smtplib

import httpx
import pytest

from activities.channels import build_email
from activities.delivery_errors import DeliveryError, classify, webhook_status

PERMANENT = [
    (ValueError("Header values may not contain linefeed or carriage return characters"),
     "message cannot be encoded (ValueError)"),
    (UnicodeEncodeError("ascii", "é", 0, 1, "no"),
     "message cannot be encoded (UnicodeEncodeError)"),
    (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no such user")}),
     "SMTP recipient refused (550)"),
    (smtplib.SMTPDataError(554, b"spam"), "SMTP refused the message (554)"),
    (smtplib.SMTPNotSupportedError(),
     "SMTP server lacks an extension this message needs (SMTPUTF8)"),
    (httpx.InvalidURL("bad"), "webhook URL cannot be used (InvalidURL)"),
    (httpx.UnsupportedProtocol("ftp"), "webhook URL cannot be used (UnsupportedProtocol)"),
]
TRANSIENT = [
    (ConnectionRefusedError(), "receiver unavailable (ConnectionRefusedError)"),
    (TimeoutError(), "receiver unavailable (TimeoutError)"),
    (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"mailbox busy")}),
     "SMTP recipient refused (450)"),
    (smtplib.SMTPDataError(451, b"try later"), "SMTP refused the message (451)"),
    (smtplib.SMTPSenderRefused(550, b"no relay", "lifecycle@localhost"),
     "SMTP 550 (SMTPSenderRefused)"),
    (smtplib.SMTPAuthenticationError(535, b"bad login"), "SMTP 535 (SMTPAuthenticationError)"),
    (smtplib.SMTPServerDisconnected("gone"), "SMTP unavailable (SMTPServerDisconnected)"),
    (httpx.ConnectError("refused"), "webhook unreachable (ConnectError)"),
    (RuntimeError("surprise"), "unexpected RuntimeError"),
]


@pytest.mark.parametrize(("exc", "reason"), PERMANENT, ids=lambda v: type(v).__name__)
def test_errors_no_retry_can_fix_are_permanent(exc: Exception, reason: str) -> None:
    error = classify(exc)
    assert (error.permanent, error.reason) == (True, reason)


@pytest.mark.parametrize(("exc", "reason"), TRANSIENT, ids=lambda v: type(v).__name__)
def test_errors_a_later_attempt_may_pass_are_transient(exc: Exception, reason: str) -> None:
    error = classify(exc)
    assert (error.permanent, error.reason) == (False, reason)


def test_a_delivery_error_keeps_its_own_verdict() -> None:
    error = DeliveryError("the org's webhook has no signing secret", permanent=True)
    assert classify(error) is error


@pytest.mark.parametrize(("status", "permanent"), [
    (400, True), (404, True), (410, True), (413, True), (422, True), (301, True),
    (401, False), (403, False), (408, False), (425, False), (429, False),
    (500, False), (502, False), (503, False)])
def test_webhook_answers(status: int, permanent: bool) -> None:
    error = webhook_status(status)
    assert (error.permanent, error.reason) == (permanent, f"webhook answered {status}")


@pytest.mark.parametrize(("recipient", "subject"), [
    ("a@example.com", "[Evil\r\nBcc: spy@example.com] Keys"),
    ("a@example.com", "[Evil\nBcc: spy@example.com] Keys"),
    ("a@example.com", "[Evil\u2028Bcc: spy@example.com] Keys"),
    ("a@example.com\r\nBcc: spy@example.com", "Keys"),
    ("a@example.com, spy@example.com", "Keys"),
])
def test_nothing_user_written_adds_a_header_or_a_recipient(recipient: str, subject: str) -> None:
    with pytest.raises(ValueError):
        build_email("lifecycle@localhost", "k:1", recipient, subject, "body")


def test_non_ascii_subjects_are_encoded_and_the_envelope_has_the_one_address() -> None:
    msg, to = build_email("lifecycle@localhost", "kx:s:o:1:email:d", " a@example.com ",
                          "[Zürich AG] Keys", "Grüße\n")
    wire = msg.as_bytes()
    assert to == "a@example.com"
    assert b"Subject: =?utf-8?" in wire and "Zürich".encode() not in wire.split(b"\r\n\r\n")[0]
    assert b"Message-ID: <kx.s.o.1.email.d@localhost>" in wire
    assert str(msg["Subject"]) == "[Zürich AG] Keys"



def test_every_length_of_key_and_subject_builds_a_mail() -> None:
    """Past the first line's width the SMTP policy folds a header onto the next line; a digest
    whose Message-ID or subject falls there is as sendable as a short one."""
    for length in range(1, 160):
        key = "digest:" + "k" * length
        subject = "[Org] " + "word " * (length // 5) + "s" * length
        msg, _to = build_email("lifecycle@example.com", key, "admin@example.com", subject, "b")
        head = msg.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        parsed = email.message_from_bytes(head, policy=email.policy.default)
        assert str(parsed["Message-ID"]).strip() == f"<digest.{'k' * length}@example.com>"
        assert str(parsed["Subject"]).split() == subject.split(), length
