"""Delivering one outbox message at once: the workflow's id, input and result.

The message is named by its idempotency key, the business reference its receivers dedupe on
(the mail's Message-ID, the webhook's delivery id). Keys are built from ids and digests only
(never an address or a name), so they may go into Temporal's history, which outlives the org.
"""

from __future__ import annotations

from dataclasses import dataclass

# What the delivery of one message came to.
SENT = "sent"
FAILED = "failed"  # the message can never be sent, or used up its attempts: see its reason
SKIPPED = "skipped"  # another sender (the sweep, an earlier attempt) settled it first
MISSING = "missing"  # no message with that key in this database
LEFT_PENDING = "pending"  # not delivered now: the sweep's delivery phase sends it later
RETRY = "retry"  # not accepted yet: try again after the wait the attempt names
# Webhook messages (`wh:<event>:<endpoint>`) keep their own waits between attempts: about
# three days of jittered backoff, which Temporal's retry policy (no jitter) cannot express.
PACED_PREFIX = "wh:"


def outbox_delivery_workflow_id(idempotency_key: str) -> str:
    """One delivery per message: a second start joins the running one.

    From the key, not the row id: row ids repeat across databases (a test run, a restored
    copy) served by one Temporal namespace; the key names one message everywhere.
    """
    return f"outbox-delivery-{idempotency_key}"


@dataclass
class OutboxDeliveryInput:
    idempotency_key: str
    # Backoff between attempts while the receiver is down; each attempt counts against the
    # channel's attempt limit (`mail_max_attempts`, `webhook_max_attempts`), which ends them.
    retry_initial_seconds: float = 1.0
    retry_max_interval_seconds: float = 300.0
    attempt_timeout_seconds: int = 120
    # Paced: the workflow waits between attempts as each attempt says (webhooks), and the
    # retry policy only covers an attempt that could not run at all.
    paced: bool = False
    # Set by the workflow on its first paced attempt: a wait already recorded on the row
    # (by the sweep's delivery phase) is kept before the message is tried again.
    wait_until_due: bool = False


@dataclass
class OutboxDeliveryResult:
    idempotency_key: str
    status: str  # SENT | FAILED | SKIPPED | MISSING | LEFT_PENDING


@dataclass
class OutboxAttemptResult:
    """One paced attempt: RETRY names the seconds to wait before the next one."""

    idempotency_key: str
    status: str  # SENT | FAILED | SKIPPED | MISSING | RETRY
    retry_in_seconds: float | None = None


def delivery_input(idempotency_key: str) -> OutboxDeliveryInput:
    """How a message is delivered: webhooks paced by their own backoff, mail by the policy."""
    return OutboxDeliveryInput(idempotency_key, paced=idempotency_key.startswith(PACED_PREFIX))
