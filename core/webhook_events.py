"""The webhook event types the engine emits: one list, shared by the API, the sweep and docs.

An event is one subject's one occurrence (a key's 7-day window, a key revoked, a teardown
completed). Payloads carry ids and times only, never secrets nor personal data beyond what the
receiving org already holds.
"""

from __future__ import annotations

API_KEY_CREATED = "api_key.created"
API_KEY_REVOKED = "api_key.revoked"
API_KEY_ROLLED = "api_key.rolled"
API_KEY_EXPIRING = "api_key.expiring"
API_KEY_EXPIRED = "api_key.expired"
API_KEY_UNUSED = "api_key.unused"  # unused too long: revoked in a week unless used
PAYMENT_METHOD_EXPIRING = "payment_method.expiring"
PAYMENT_METHOD_UNAVAILABLE = "payment_method.unavailable"
TEARDOWN_REQUESTED = "org.teardown.requested"
TEARDOWN_CANCELLED = "org.teardown.cancelled"
TEARDOWN_COMPLETED = "org.teardown.completed"
TEARDOWN_FAILED = "org.teardown.failed"
MEMBER_REMOVED = "member.removed"
WEBHOOK_TEST = "webhook.test"  # sent by "send test event" to one endpoint only

EVENT_TYPES: tuple[str, ...] = (
    API_KEY_CREATED, API_KEY_REVOKED, API_KEY_ROLLED, API_KEY_EXPIRING, API_KEY_EXPIRED,
    API_KEY_UNUSED, PAYMENT_METHOD_EXPIRING, PAYMENT_METHOD_UNAVAILABLE, TEARDOWN_REQUESTED,
    TEARDOWN_CANCELLED, TEARDOWN_COMPLETED, TEARDOWN_FAILED, MEMBER_REMOVED, WEBHOOK_TEST,
)
