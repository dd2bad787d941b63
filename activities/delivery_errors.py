"""Which delivery failures a retry can fix: decided here, for every channel, in one place.

Transient: the receiver, or the road to it, is down, busy or not yet configured to take us
(connection refused, timeouts, SMTP 4xx and session errors, HTTP 5xx, 408/425/429, and 401/403:
the receiver does not accept our signature yet, which a secret rotation on either side fixes, and
every attempt is signed again with the org's current secret). These are retried with backoff until
the channel's attempt limit.

Permanent: the message itself can never go through as written (a header that cannot be encoded,
an address that is not one address, every recipient refused with 5xx, the content refused with
5xx, a non-ASCII address for a server without SMTPUTF8, a webhook URL that cannot be used or
whose host resolves to an address we never send to, any other 4xx or a redirect from a
webhook). Retrying such a message only holds up the ones behind it, so it is marked `failed`
with the reason at once.

Anything not named here counts as transient: the attempt limit still ends it, so no error, known
or not, can keep a message pending forever.

Reasons are built here from codes and exception class names only: never the server's reply text,
which may echo the recipient, and never the message.
"""

from __future__ import annotations

import email.errors
import smtplib

import httpx

from core.webhook_targets import TargetRefused

# 401/403: the receiver refuses our signature or credentials; fixed by settings, not by the
# message. 408/425/429: the receiver asks us to come back later.
TRANSIENT_HTTP_4XX = frozenset({401, 403, 408, 425, 429})


class DeliveryError(Exception):
    """A send that did not go through; `permanent` means retrying cannot fix it, and
    `receiver_down` that the receiver itself failed (its session is gone), not this message."""

    def __init__(self, reason: str, *, permanent: bool = False,
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.status = status  # a webhook's HTTP answer, when there was one
        self.receiver_down = False  # set by the channel that lost its session


def classify(exc: BaseException) -> DeliveryError:
    """The delivery error an exception raised while building or sending a message stands for."""
    if isinstance(exc, DeliveryError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return DeliveryError(f"SMTP recipient refused ({', '.join(map(str, codes))})",
                             permanent=bool(codes) and all(code >= 500 for code in codes))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError("SMTP server lacks an extension this message needs (SMTPUTF8)",
                             permanent=True)
    if isinstance(exc, smtplib.SMTPDataError):
        # The server read the message and refused it (content, size, policy).
        return DeliveryError(f"SMTP refused the message ({exc.smtp_code})",
                             permanent=exc.smtp_code >= 500)
    if isinstance(exc, smtplib.SMTPResponseException):
        # Connect, greeting, login or sender refused: the session, not this message.
        return DeliveryError(f"SMTP {exc.smtp_code} ({name})")
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryError(f"SMTP unavailable ({name})")
    if isinstance(exc, TargetRefused):
        # The address the host resolves to now is not one we send to (a rebinding attempt,
        # or a host moved inside a private network): the URL must change.
        return DeliveryError(f"webhook target refused: {exc}", permanent=True)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return DeliveryError(f"webhook URL cannot be used ({name})", permanent=True)
    if isinstance(exc, httpx.LocalProtocolError):
        return DeliveryError(f"webhook request cannot be built ({name})", permanent=True)
    if isinstance(exc, httpx.HTTPError):
        return DeliveryError(f"webhook unreachable ({name})")
    if isinstance(exc, (ValueError, email.errors.MessageError)):
        # Includes UnicodeError: a header with CR/LF, an address that is not exactly one
        # address, text that cannot be encoded.
        return DeliveryError(f"message cannot be encoded ({name})", permanent=True)
    if isinstance(exc, OSError):
        return DeliveryError(f"receiver unavailable ({name})")
    return DeliveryError(f"unexpected {name}")


def webhook_status(status: int) -> DeliveryError:
    """The error for a webhook's non-2xx answer."""
    permanent = (300 <= status < 500) and status not in TRANSIENT_HTTP_4XX
    return DeliveryError(f"webhook answered {status}", permanent=permanent, status=status)
