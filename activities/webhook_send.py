"""Sending one webhook message: the endpoint's secrets, the spec's headers, what a result means.

The outbox row names the endpoint (its `recipient`), not a URL: the URL and the secrets are
read at every attempt, so an edit or a rotation applies to messages already queued, and a
deleted or disabled endpoint gets nothing more (the message fails with that reason).

After each attempt (`record`): a line in the endpoint's delivery log (event, attempt, status,
latency, next retry); a success resets the endpoint's consecutive failures; a `410 Gone`
disables it at once, as the receiver asked; `LIFECYCLE_WEBHOOK_DISABLE_AFTER_FAILURES`
consecutive failed attempts disable it too, and the org admin is mailed in the same
transaction. Waits between attempts follow `LIFECYCLE_WEBHOOK_RETRY_SCHEDULE_SECONDS`, each
drawn within ± `LIFECYCLE_WEBHOOK_RETRY_JITTER` of its value.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from activities.channels import Channels
from activities.delivery_errors import DeliveryError
from core import secretbox
from core.settings import Settings
from store import orgs, outbox, webhooks
from store.base import utcnow
from store.models import OutboxMessage
from store.webhook_models import ENABLED, WebhookEndpoint

GONE = 410
DISABLED_MAIL_PREFIX = "webhook-disabled:"


@dataclass
class Attempt:
    """What one send did, for the delivery log."""

    status_code: int | None = None
    latency_ms: int | None = None
    reached: bool = False  # the request was attempted (not refused before: deleted, disabled)
    follow_up: list[str] = field(default_factory=list)  # outbox keys to deliver after commit


def retry_delay(settings: Settings, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based), jittered."""
    schedule = settings.webhook_retry_schedule_seconds
    base = schedule[min(attempt, len(schedule)) - 1]
    jitter = settings.webhook_retry_jitter
    return base * (rng or random).uniform(1 - jitter, 1 + jitter)


def live_secrets(settings: Settings, endpoint: WebhookEndpoint, now: datetime
                 ) -> list[str]:
    """The current secret, and the previous one while its rotation window lasts."""
    key = settings.webhook_secret_key.get_secret_value()
    found = [secretbox.open_sealed(key, endpoint.secret_sealed, endpoint.id)]
    if endpoint.previous_secret_sealed and endpoint.previous_until \
            and endpoint.previous_until > now:
        found.append(secretbox.open_sealed(key, endpoint.previous_secret_sealed, endpoint.id))
    return found


def send(session: Session, settings: Settings, channels: Channels, msg: OutboxMessage,
         attempt: Attempt) -> None:
    """POST the message to its endpoint; raises DeliveryError (with the status, if any)."""
    endpoint = webhooks.endpoint_by_id(session, msg.recipient)
    if endpoint is None:
        raise DeliveryError("the webhook endpoint was deleted", permanent=True)
    if endpoint.status != ENABLED:
        raise DeliveryError("the webhook endpoint is disabled", permanent=True)
    try:
        signing = live_secrets(settings, endpoint, utcnow())
    except secretbox.SealBroken as exc:
        raise DeliveryError(f"the endpoint's secret cannot be opened ({exc})",
                            permanent=True) from None
    started = time.monotonic()
    attempt.reached = True
    try:
        attempt.status_code = channels.post_webhook(
            endpoint.url, webhooks.event_of_message(msg.idempotency_key), signing, msg.body)
    except DeliveryError as exc:
        attempt.status_code = exc.status
        raise
    finally:
        attempt.latency_ms = int((time.monotonic() - started) * 1000)


def record(session: Session, settings: Settings, msg: OutboxMessage, attempt: Attempt,
           error: DeliveryError | None, retry_in: float | None) -> None:
    """Log the attempt and keep the endpoint's health (see the module's docstring)."""
    endpoint = webhooks.endpoint_by_id(session, msg.recipient)
    if endpoint is None or msg.org_id is None:
        return
    now = utcnow()
    next_retry = now + timedelta(seconds=retry_in) if retry_in is not None else None
    webhooks.log_attempt(session, org_id=msg.org_id, endpoint_id=endpoint.id,
                         event=webhooks.event_of_message(msg.idempotency_key),
                         event_type=msg.subject, attempt=msg.attempts,
                         status_code=attempt.status_code, latency_ms=attempt.latency_ms,
                         error=error.reason if error else None, next_retry_at=next_retry)
    if error is None:
        webhooks.reset_failures(session, endpoint.id)
        return
    if not attempt.reached:
        return  # a disabled endpoint or an unopenable secret: nothing was sent
    failures = webhooks.count_failure(session, endpoint.id)
    if attempt.status_code == GONE:
        webhooks.disable(endpoint, "the receiver answered 410 Gone", now)
    elif failures >= settings.webhook_disable_after_failures:
        webhooks.disable(endpoint, f"{failures} consecutive failed attempts", now)
        attempt.follow_up.append(_mail_admin(session, msg.org_id, endpoint, failures))


def _mail_admin(session: Session, org_id: str, endpoint: WebhookEndpoint,
                failures: int) -> str:
    key = f"{DISABLED_MAIL_PREFIX}{endpoint.id}:{endpoint.updated_at.isoformat()}"
    to = orgs.admin_email(session, org_id)
    if to is None or outbox.find(session, key) is not None:
        return key
    body = (f"The webhook endpoint {endpoint.url} of your organization was disabled after "
            f"{failures} consecutive failed deliveries.\n\nFix the receiver, then enable the "
            "endpoint again from the console or the API (PATCH .../webhooks/{id} with "
            '{"enabled": true}); events from now on are delivered again.\n')
    outbox.queue(session, idempotency_key=key, org_id=org_id, channel="email", recipient=to,
                 subject="A webhook endpoint was disabled", body=body)
    return key
