"""The two delivery channels: SMTP mail and signed webhook POSTs.

Each send either returns (the receiver accepted the message: SMTP said 250 to DATA, the webhook
answered 2xx) or raises `DeliveryError`, saying whether trying again could help
(`delivery_errors.classify` decides, for whatever went wrong, building the message included).
Nothing here touches the database; `delivery` decides what a result means for the outbox row.

Every mail header is built by the `email` package under its SMTP policy: values go in through
the policy's header factory, which refuses line breaks and encodes non-ASCII text (RFC 2047),
and the recipient is parsed as exactly one address; the envelope names that one address too.
So nothing user-written (an org name in a subject, an address) can add a header or a recipient.
Two more lines of defence, because the policy alone is not enough on every Python we run: some
versions decode an encoded word (`=?utf-8?q?=0D=0ABcc:...?=`) typed as plain text and write
the line break it hides onto the wire. So a `=?` in a subject is split by an invisible word
joiner (never read as an encoded word), and the message is parsed back from its wire form and
refused unless it has exactly the headers set, with the values set; the bytes so checked are
the ones sent.

Webhooks follow the Standard Webhooks specification (`core.standard_webhooks`): the event id in
`webhook-id`, the attempt's time in `webhook-timestamp`, one `v1,` signature per live secret.
They go out through `webhook_transport`, which connects only to addresses it has just checked,
and never follow a redirect.

Receivers dedupe on a stable id: the outbox idempotency key as the mail's `Message-ID`, the
event id as `webhook-id`. The one crash we cannot close (after the receiver accepted, before
our commit) resends the same id.
"""

from __future__ import annotations

import email.generator
import email.policy
import io
import smtplib
import time
from email.headerregistry import Address
from email.message import EmailMessage
from types import TracebackType

import httpx

from activities.delivery_errors import classify, webhook_status
from activities.webhook_transport import webhook_client
from core import standard_webhooks
from core.settings import Settings
from core.webhook_targets import TargetPolicy, TargetRefused, check_url

SMTP_TIMEOUT_S = 30.0


def message_id(idempotency_key: str, sender: str) -> str:
    """A valid `Message-ID` from the idempotency key (':' is not allowed on its left side)."""
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    return f"<{idempotency_key.replace(':', '.')}@{domain}>"


class Channels:
    """Open connections for one delivery page: one SMTP session reused for every mail."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._http: httpx.Client | None = None

    def __enter__(self) -> Channels:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._drop_smtp()
        if self._http is not None:
            self._http.close()

    def _drop_smtp(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _smtp_session(self) -> smtplib.SMTP:
        if self._smtp is None:
            s = self.settings
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT_S)
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            self._smtp = smtp
        return self._smtp

    def send_email(self, idempotency_key: str, recipient: str, subject: str, body: str) -> None:
        sender = self.settings.mail_sender
        try:
            msg, wire, to = _built_email(sender, idempotency_key, recipient, subject, body)
        except Exception as exc:
            raise classify(exc) from exc
        try:
            if (sender + to).isascii():
                # The very bytes the header check read go out: the mail is flattened once.
                self._smtp_session().sendmail(sender, [to], wire)
            else:  # an address needing SMTPUTF8, which `send_message` negotiates
                self._smtp_session().send_message(msg, from_addr=sender, to_addrs=[to])
        except Exception as exc:
            error = classify(exc)
            if not isinstance(exc, smtplib.SMTPRecipientsRefused):  # else the session is good
                self._drop_smtp()
                error.receiver_down = not error.permanent
            raise error from exc

    def post_webhook(self, url: str, msg_id: str, secrets: list[str], body: str) -> int:
        """POST one signed delivery; the 2xx status, else DeliveryError (with the status)."""
        s = self.settings
        policy = TargetPolicy.of(s.webhook_allow_http, s.webhook_allowed_networks)
        try:
            check_url(url, policy)
        except TargetRefused as exc:
            raise classify(exc) from exc
        payload = body.encode()
        try:
            headers = {"Content-Type": "application/json",
                       "User-Agent": "org-lifecycle-webhooks",
                       **standard_webhooks.headers(secrets, msg_id, int(time.time()), payload)}
            if self._http is None:
                self._http = webhook_client(policy, s.webhook_timeout_seconds)
            response = self._http.post(url, content=payload, headers=headers)
        except Exception as exc:
            raise classify(exc) from exc
        if not response.is_success:
            raise webhook_status(response.status_code)
        return response.status_code


WORD_JOINER = "\u2060"
_OWN_HEADERS = ("content-type", "content-transfer-encoding", "mime-version")


def _words(value: str) -> list[str]:
    return value.split()


def wire_form(msg: EmailMessage) -> bytes:
    """The bytes `smtplib.SMTP.send_message` sends for `msg` (its generator, its line ends)
    when no address needs SMTPUTF8."""
    out = io.BytesIO()
    email.generator.BytesGenerator(out).flatten(msg, linesep="\r\n")
    return out.getvalue()


def _checked_on_the_wire(msg: EmailMessage, wanted: dict[str, str]) -> bytes:
    """Refuse `msg` unless its wire form parses back to exactly the `wanted` headers; returns
    that wire form."""
    wire = wire_form(msg)
    head = wire.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    parsed = email.message_from_bytes(head, policy=email.policy.default)
    names = sorted(k.lower() for k in parsed if k.lower() not in _OWN_HEADERS)
    # A value too long for one line is folded, and unfolding keeps the folding white space
    # (in front of a Message-ID, doubled beside an encoded word): white space is the wire's,
    # the words are the value's.
    if names != sorted(wanted) or any(_words(str(parsed[k])) != _words(v)
                                      for k, v in wanted.items()):
        raise ValueError("the mail's headers would not be the ones set: refused")
    return wire


def build_email(sender: str, idempotency_key: str, recipient: str, subject: str,
                body: str) -> tuple[EmailMessage, str]:
    """The mail as the SMTP policy builds it, and the one envelope recipient (the parsed
    address, never the raw string); raises ValueError on anything that would not be exactly
    these headers once on the wire."""
    msg, _, to = _built_email(sender, idempotency_key, recipient, subject, body)
    return msg, to


def _built_email(sender: str, idempotency_key: str, recipient: str, subject: str,
                 body: str) -> tuple[EmailMessage, bytes, str]:
    """`build_email`, with the checked wire form of the mail beside it."""
    to = Address(addr_spec=recipient)
    subject = subject.replace("=?", "=" + WORD_JOINER + "?")
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id(idempotency_key, sender)
    msg.set_content(body)
    wire = _checked_on_the_wire(msg, {"from": str(msg["From"]), "to": to.addr_spec,
                                      "subject": subject, "message-id": str(msg["Message-ID"])})
    return msg, wire, to.addr_spec
