"""The two delivery channels: SMTP mail and signed webhook POSTs.

Each send either returns (the receiver accepted the message: SMTP said 250 to DATA, the webhook
answered 2xx) or raises `DeliveryError`, saying whether trying again could help. Nothing here
touches the database; `delivery` decides what a result means for the outbox row.

Receivers dedupe on the outbox idempotency key, carried as the mail's `Message-ID` and as the
webhook's `X-Lifecycle-Delivery` header: the one crash we cannot close (after the receiver
accepted, before our commit) resends the same id.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time
from email.message import EmailMessage
from types import TracebackType

import httpx

from core.settings import Settings

SIGNATURE_HEADER = "X-Lifecycle-Signature"
TIMESTAMP_HEADER = "X-Lifecycle-Timestamp"
DELIVERY_HEADER = "X-Lifecycle-Delivery"
SMTP_TIMEOUT_S = 30.0


class DeliveryError(Exception):
    """A send that did not go through; `permanent` means retrying cannot fix it."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def message_id(idempotency_key: str, sender: str) -> str:
    """A valid `Message-ID` from the idempotency key (':' is not allowed on its left side)."""
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    return f"<{idempotency_key.replace(':', '.')}@{domain}>"


def sign(secret: str, timestamp: str, body: str) -> str:
    """HMAC-SHA256 over `timestamp.body`: binding the time stops replays of old deliveries."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


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
        msg = EmailMessage()
        msg["From"] = self.settings.mail_sender
        msg["To"] = recipient
        msg["Subject"] = subject
        msg["Message-ID"] = message_id(idempotency_key, self.settings.mail_sender)
        msg.set_content(body)
        try:
            self._smtp_session().send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("recipient refused", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop_smtp()
            raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop_smtp()
            raise DeliveryError(f"SMTP unavailable: {type(exc).__name__}") from exc

    def post_webhook(self, idempotency_key: str, url: str, secret: str | None,
                     body: str) -> None:
        if not secret:
            raise DeliveryError("the org's webhook has no signing secret", permanent=True)
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(secret, timestamp, body),
                   DELIVERY_HEADER: idempotency_key}
        if self._http is None:
            self._http = httpx.Client(timeout=self.settings.webhook_timeout_seconds)
        try:
            response = self._http.post(url, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise DeliveryError(f"webhook answered {response.status_code}")
