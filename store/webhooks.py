"""Queries of webhook endpoints, events and the delivery log, and emitting an event.

`emit` is the one way an event comes to be: in the caller's transaction it adds the event row
(its id derived from the org and the occurrence, so the same occurrence emitted twice finds the
first row and queues nothing new) and one outbox message per enabled endpoint that wants the
type; with no such endpoint nothing is kept. The caller starts those messages' delivery after
its commit (the API does for every request: `api.deliveries`), or leaves them to the sweep's
delivery phase. Everything here takes the caller's session and never commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store import outbox
from store.base import new_id, rowcount, utcnow
from store.paging import keyset_page
from store.webhook_models import DISABLED, ENABLED, WebhookAttempt, WebhookEndpoint, WebhookEvent

MESSAGE_PREFIX = "wh:"  # outbox keys `wh:<event id>:<endpoint id>`
CHANNEL = "webhook"
# `session.info` key under which `emit` lists the messages it queued, so whoever commits the
# session can start their delivery afterwards (the API does, after every request).
QUEUED_INFO = "webhook_messages"


def event_id(org_id: str, occurrence: str) -> str:
    """The stable id of one occurrence: retries, overlapping sweeps and replays agree on it."""
    return "evt_" + hashlib.sha256(f"{org_id}\n{occurrence}".encode()).hexdigest()[:28]


def message_key(event: str, endpoint_id: str) -> str:
    return f"{MESSAGE_PREFIX}{event}:{endpoint_id}"


def event_of_message(idempotency_key: str) -> str:
    return idempotency_key.removeprefix(MESSAGE_PREFIX).split(":", 1)[0]


@dataclass
class Emitted:
    """The event's id and the outbox keys queued for it now (empty when it existed)."""

    event_id: str
    message_keys: list[str] = field(default_factory=list)


def body_of(event: str, event_type: str, org_id: str, data: dict[str, Any],
            now: datetime) -> str:
    """The JSON every endpoint receives (compact, stable key order: it is signed as is)."""
    return json.dumps({"id": event, "type": event_type, "timestamp": now.isoformat(),
                       "org_id": org_id, "data": data}, separators=(",", ":"), sort_keys=True)


def anyone_wants(session: Session, org_id: str, event_type: str) -> bool:
    """Whether an enabled endpoint of the org takes `event_type` (one query for a batch)."""
    return any(wants(e, event_type) for e in endpoints_of(session, org_id))


def wants(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return endpoint.status == ENABLED and (not endpoint.event_types
                                           or event_type in endpoint.event_types)


def emit(session: Session, org_id: str, event_type: str, occurrence: str,
         data: dict[str, Any], *, now: datetime | None = None,
         only_endpoint: str | None = None) -> Emitted:
    """Record one event and queue it for every endpoint of the org that wants it.

    `occurrence` names the subject and its occurrence with ids only (`key:<id>:7d:<expiry>`);
    `only_endpoint` sends it to that endpoint alone (the test event).
    """
    ident = event_id(org_id, occurrence)
    if session.get(WebhookEvent, ident) is not None:
        return Emitted(ident)
    targets = [e for e in endpoints_of(session, org_id)
               if (e.id == only_endpoint if only_endpoint else wants(e, event_type))]
    if not targets:
        return Emitted(ident)  # nobody listens: nothing to keep or to send
    now = now or utcnow()
    body = body_of(ident, event_type, org_id, data, now)
    session.add(WebhookEvent(id=ident, org_id=org_id, type=event_type, body=body,
                             created_at=now))
    keys = []
    for endpoint in targets:
        key = message_key(ident, endpoint.id)
        outbox.queue(session, idempotency_key=key, org_id=org_id, channel=CHANNEL,
                     recipient=endpoint.id, subject=event_type, body=body)
        keys.append(key)
    session.flush()
    session.info.setdefault(QUEUED_INFO, []).extend(keys)
    return Emitted(ident, keys)


# -- endpoints -------------------------------------------------------------------------------

def endpoints_of(session: Session, org_id: str) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id)
                                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)))


def orgs_with_endpoints(session: Session, org_ids: Sequence[str]) -> set[str]:
    """Which of these orgs have a webhook endpoint at all (the others get no events)."""
    if not org_ids:
        return set()
    return set(session.scalars(select(WebhookEndpoint.org_id).distinct()
                               .where(WebhookEndpoint.org_id.in_(org_ids))))


def get_endpoint(session: Session, org_id: str, endpoint_id: str, *,
                 lock: bool = False) -> WebhookEndpoint | None:
    query = select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id,
                                          WebhookEndpoint.id == endpoint_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def endpoint_by_id(session: Session, endpoint_id: str) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, endpoint_id, populate_existing=True)


def add_endpoint(session: Session, *, org_id: str, url: str, description: str,
                 event_types: Sequence[str], sealed: str, endpoint_id: str,
                 created_by: str) -> WebhookEndpoint:
    now = utcnow()
    row = WebhookEndpoint(id=endpoint_id, org_id=org_id, url=url, description=description,
                          event_types=list(event_types), secret_sealed=sealed,
                          status=ENABLED, consecutive_failures=0, created_by=created_by,
                          created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return row


def new_endpoint_id() -> str:
    return new_id()


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its delivery log; its pending messages fail as `endpoint deleted`."""
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint.id))
    session.delete(endpoint)


def disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    endpoint.status, endpoint.disabled_reason, endpoint.updated_at = DISABLED, reason, now


def enable(endpoint: WebhookEndpoint, now: datetime) -> None:
    endpoint.status, endpoint.disabled_reason = ENABLED, None
    endpoint.consecutive_failures, endpoint.updated_at = 0, now


def count_failure(session: Session, endpoint_id: str) -> int:
    """One more consecutive failed attempt (an UPDATE, so concurrent deliveries add up)."""
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                    .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1))
    return int(session.scalar(select(WebhookEndpoint.consecutive_failures)
                              .where(WebhookEndpoint.id == endpoint_id)) or 0)


def reset_failures(session: Session, endpoint_id: str) -> None:
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                  WebhookEndpoint.consecutive_failures != 0)
                    .values(consecutive_failures=0))


# -- delivery log ----------------------------------------------------------------------------

def log_attempt(session: Session, *, org_id: str, endpoint_id: str, event: str,
                event_type: str, attempt: int, status_code: int | None,
                latency_ms: int | None, error: str | None,
                next_retry_at: datetime | None) -> None:
    session.add(WebhookAttempt(org_id=org_id, endpoint_id=endpoint_id, event_id=event,
                               event_type=event_type, attempt=attempt,
                               status_code=status_code, latency_ms=latency_ms,
                               error=error[:outbox.ERROR_LENGTH] if error else None,
                               next_retry_at=next_retry_at, created_at=utcnow()))


def attempts_page(session: Session, endpoint_id: str, *, limit: int, after: int
                  ) -> tuple[list[WebhookAttempt], str | None]:
    query = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
    return keyset_page(session, query, WebhookAttempt.id, limit=limit, after=after)


def erase_org(session: Session, org_id: str) -> dict[str, int]:
    """The org's endpoints, events and delivery log (the teardown's key step)."""
    counts = {}
    for table in (WebhookAttempt, WebhookEvent, WebhookEndpoint):
        counts[table.__tablename__] = rowcount(session.execute(
            delete(table).where(table.org_id == org_id)))
    return counts
