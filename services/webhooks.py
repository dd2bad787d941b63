"""Webhook endpoints of an org: add (secret shown once), change, rotate, disable, delete, test.

Each write locks the org and refuses a frozen or deleting one (`guards.writable_org`), checks
the URL against the target policy (public https only, every address it resolves to checked;
the sender checks again at every connect), and leaves an audit event naming the endpoint by
id, never its URL's secrets nor its signing secret. The signing secret is generated here,
returned once, and stored only sealed under `LIFECYCLE_WEBHOOK_SECRET_KEY`.

`emit_event` is how any domain operation announces an occurrence (a member removed, a key
revoked): in the caller's transaction, once per occurrence; the caller starts the returned
messages' delivery after its commit (`clients.outbox.start_deliveries`), or leaves them to the
sweep's delivery phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from core import secretbox, standard_webhooks
from core import webhook_events as events
from core.problems import InvalidInput, NotFound
from core.settings import Settings
from core.webhook_targets import TargetPolicy, TargetRefused, check_target
from services.guards import writable_org
from services.names import check_name
from store import webhooks
from store.audit import audit
from store.base import new_id, utcnow
from store.webhook_models import WebhookEndpoint

MAX_OVERLAP_HOURS = 7 * 24
Emitted = webhooks.Emitted


def emit_event(session: Session, org_id: str, event_type: str, occurrence: str,
               data: dict[str, Any]) -> Emitted:
    """Emit one event (see `store.webhooks.emit`); `occurrence` is made of ids only, e.g.
    `member:<id>:removed`, and decides its stable id."""
    if event_type not in events.EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return webhooks.emit(session, org_id, event_type, occurrence, data)


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def policy_of(settings: Settings) -> TargetPolicy:
    return TargetPolicy.of(settings.webhook_allow_http, settings.webhook_allowed_networks)


def _checked_url(url: str, settings: Settings) -> str:
    try:
        return check_target(url, policy_of(settings))
    except TargetRefused as exc:
        raise InvalidInput(f"this URL cannot receive webhooks: {exc}", field="url") from None


def _checked_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(events.EVENT_TYPES))
    if unknown:
        raise InvalidInput(f"unknown event types: {', '.join(unknown)}", field="event_types",
                           known=list(events.EVENT_TYPES))
    return sorted(set(event_types))


def _seal(settings: Settings, secret: str, endpoint_id: str) -> str:
    return secretbox.seal(settings.webhook_secret_key.get_secret_value(), secret, endpoint_id)


def endpoint_or_404(session: Session, org_id: str, endpoint_id: str, *,
                    lock: bool = False) -> WebhookEndpoint:
    endpoint = webhooks.get_endpoint(session, org_id, endpoint_id, lock=lock)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist in this organization")
    return endpoint


def add_endpoint(session: Session, settings: Settings, org_id: str, *, url: str,
                 description: str, event_types: Sequence[str], actor: str
                 ) -> EndpointWithSecret:
    writable_org(session, org_id)
    if description:
        check_name(description, "description")
    checked = _checked_url(url, settings)
    types = _checked_types(event_types)
    endpoint_id = new_id()
    secret = standard_webhooks.new_secret()
    endpoint = webhooks.add_endpoint(session, org_id=org_id, url=checked,
                                     description=description, event_types=types,
                                     sealed=_seal(settings, secret, endpoint_id),
                                     endpoint_id=endpoint_id, created_by=actor)
    audit(session, org_id, actor, "webhook.created", f"webhook:{endpoint_id}",
          event_types=types)
    return EndpointWithSecret(endpoint, secret)


def update_endpoint(session: Session, settings: Settings, org_id: str, endpoint_id: str, *,
                    actor: str, url: str | None = None, description: str | None = None,
                    event_types: Sequence[str] | None = None,
                    enabled: bool | None = None) -> WebhookEndpoint:
    writable_org(session, org_id)
    endpoint = endpoint_or_404(session, org_id, endpoint_id, lock=True)
    now = utcnow()
    changed: list[str] = []
    if url is not None:
        endpoint.url = _checked_url(url, settings)
        changed.append("url")
    if description is not None:
        if description:
            check_name(description, "description")
        endpoint.description = description
        changed.append("description")
    if event_types is not None:
        endpoint.event_types = _checked_types(event_types)
        changed.append("event_types")
    if enabled is True:
        webhooks.enable(endpoint, now)
        changed.append("enabled")
    elif enabled is False:
        webhooks.disable(endpoint, "disabled by an admin", now)
        changed.append("disabled")
    endpoint.updated_at = now
    audit(session, org_id, actor, "webhook.updated", f"webhook:{endpoint_id}",
          changed=changed)
    return endpoint


def rotate_secret(session: Session, settings: Settings, org_id: str, endpoint_id: str, *,
                  overlap_hours: int, actor: str) -> EndpointWithSecret:
    """A new secret now; the current one keeps signing too (a second signature) for
    `overlap_hours`, so the receiver can switch without losing a delivery."""
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(f"overlap_hours must be 0-{MAX_OVERLAP_HOURS}", field="overlap_hours")
    writable_org(session, org_id)
    endpoint = endpoint_or_404(session, org_id, endpoint_id, lock=True)
    now = utcnow()
    secret = standard_webhooks.new_secret()
    if overlap_hours:
        endpoint.previous_secret_sealed = endpoint.secret_sealed
        endpoint.previous_until = now + timedelta(hours=overlap_hours)
    else:
        endpoint.previous_secret_sealed, endpoint.previous_until = None, None
    endpoint.secret_sealed = _seal(settings, secret, endpoint.id)
    endpoint.updated_at = now
    audit(session, org_id, actor, "webhook.secret_rotated", f"webhook:{endpoint_id}",
          overlap_hours=overlap_hours)
    return EndpointWithSecret(endpoint, secret)


def delete_endpoint(session: Session, org_id: str, endpoint_id: str, *, actor: str) -> None:
    writable_org(session, org_id)
    endpoint = endpoint_or_404(session, org_id, endpoint_id, lock=True)
    webhooks.delete_endpoint(session, endpoint)
    audit(session, org_id, actor, "webhook.deleted", f"webhook:{endpoint_id}")


def send_test_event(session: Session, org_id: str, endpoint_id: str, *,
                    actor: str) -> Emitted:
    """A `webhook.test` event to this endpoint only (a new event each time)."""
    writable_org(session, org_id)
    endpoint = endpoint_or_404(session, org_id, endpoint_id)
    emitted = webhooks.emit(session, org_id, events.WEBHOOK_TEST, f"test:{new_id()}",
                            {"endpoint_id": endpoint.id}, only_endpoint=endpoint.id)
    audit(session, org_id, actor, "webhook.tested", f"webhook:{endpoint_id}",
          event_id=emitted.event_id)
    return emitted
