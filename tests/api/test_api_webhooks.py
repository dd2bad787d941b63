"""Webhook endpoints through the API, delivered by the real workflow to real receivers that
verify every delivery with the reference `standardwebhooks` package."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from temporalio.testing import WorkflowEnvironment

from contracts.outbox import outbox_delivery_workflow_id
from core import secretbox, standard_webhooks
from core.settings import Settings
from store import webhooks
from store.models import AuditEvent, OutboxMessage
from store.webhook_models import WebhookEndpoint
from tests.support.api_support import (
    OrgKeys,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
)
from tests.support.sweep_support import (
    Hooks,
    Inbox,
    delivery_worker,
    local_webhooks,
    skip_until_done,
    smtp_server,
    webhook_receiver,
)
from tests.support.teardown_support import eventually


@dataclass
class Api:
    client: httpx.AsyncClient
    org: OrgKeys
    settings: Settings
    env: WorkflowEnvironment

    @property
    def base(self) -> str:
        return f"/orgs/{self.org.org.org_id}/webhooks"

    @property
    def admin(self) -> dict[str, str]:
        return bearer(self.org.admin)

    async def create(self, url: str, **body: Any) -> dict[str, Any]:
        response = await self.client.post(self.base, json={"url": url, **body},
                                          headers=self.admin)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made

    async def test_event(self, endpoint_id: str) -> tuple[str, str]:
        """Send a test event and wait for its delivery's end; its id and final status."""
        response = await self.client.post(f"{self.base}/{endpoint_id}/test",
                                          headers=self.admin)
        assert response.status_code == 202, response.text
        event_id: str = response.json()["event_id"]
        key = webhooks.message_key(event_id, endpoint_id)
        result = await skip_until_done(self.env, outbox_delivery_workflow_id(key))
        return event_id, str(result["status"])


@asynccontextmanager
async def webhook_api(env: WorkflowEnvironment, sessions: sessionmaker[Session],
                      settings: Settings, **changes: Any) -> AsyncIterator[Api]:
    settings = api_settings(local_webhooks(settings, task_queue=f"wh-{uuid.uuid4().hex[:8]}",
                                           **changes))
    org = seed_with_keys(sessions, settings)
    async with delivery_worker(env.client, settings, sessions), \
            api_client(settings, env.client) as client:
        yield Api(client, org, settings, env)


async def test_endpoints_are_managed_by_the_admin_and_the_secret_is_shown_once(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    async with webhook_api(own_time_skipping_env, session_factory, settings) as api:
        made = await api.create("http://127.0.0.1:9/hooks", event_types=["api_key.expiring"])
        secret, endpoint = made["secret"], made["endpoint"]
        assert secret.startswith("whsec_") and endpoint["event_types"] == ["api_key.expiring"]
        listed = (await api.client.get(api.base, headers=api.admin)).json()["items"]
        one = (await api.client.get(f"{api.base}/{endpoint['id']}", headers=api.admin)).json()
        assert [e["id"] for e in listed] == [endpoint["id"]] and one == endpoint
        assert secret not in str(listed) + str(one)
        with session_factory() as session:
            row = session.get_one(WebhookEndpoint, endpoint["id"])
            assert secret not in row.secret_sealed  # sealed, and opens only under the key
            assert secretbox.open_sealed(api.settings.webhook_secret_key.get_secret_value(),
                                         row.secret_sealed, row.id) == secret
            with pytest.raises(secretbox.SealBroken):
                secretbox.open_sealed("another-key-of-at-least-32-characters",
                                      row.secret_sealed, row.id)
        changed = await api.client.patch(f"{api.base}/{endpoint['id']}",
                                         json={"event_types": [], "enabled": False},
                                         headers=api.admin)
        assert changed.json()["status"] == "disabled" and changed.json()["event_types"] == []
        problem(await api.client.patch(f"{api.base}/{endpoint['id']}",
                                       json={"event_types": ["no.such"]}, headers=api.admin),
                422)
        problem(await api.client.post(api.base, json={"url": "https://127.0.0.1/x"},
                                      headers=bearer(api.org.member)), 403)
        deleted = await api.client.delete(f"{api.base}/{endpoint['id']}", headers=api.admin)
        assert deleted.status_code == 204
        problem(await api.client.get(f"{api.base}/{endpoint['id']}", headers=api.admin), 404)
    with session_factory() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(
            AuditEvent.org_id == api.org.org.org_id)))
    assert {"webhook.created", "webhook.updated", "webhook.deleted"} <= actions


async def test_targets_outside_development_must_be_public_https(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    async with webhook_api(own_time_skipping_env, session_factory, settings,
                           webhook_allow_http=False, webhook_allowed_networks=[]) as api:
        for url in ("http://93.184.216.34/hooks", "https://127.0.0.1/hooks",
                    "https://169.254.169.254/latest/meta-data", "https://localhost/x",
                    "https://10.0.0.8/hooks"):
            body = problem(await api.client.post(api.base, json={"url": url},
                                                 headers=api.admin), 422)
            assert body["field"] == "url"
    with session_factory() as session:
        assert session.scalars(select(WebhookEndpoint)).all() == []


async def test_a_receiver_failing_twice_gets_the_event_once_with_one_id(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    hooks = Hooks(secret="", refuse_first=2, refuse_status=500)
    with webhook_receiver(hooks) as url:
        async with webhook_api(own_time_skipping_env, session_factory, settings) as api:
            made = await api.create(url)
            hooks.secret = made["secret"]
            event_id, status = await api.test_event(made["endpoint"]["id"])
            log = (await api.client.get(f"{api.base}/{made['endpoint']['id']}/deliveries",
                                        headers=api.admin)).json()["items"]
    assert status == "sent" and hooks.requests == 3 and hooks.bad_signatures == 0
    assert hooks.delivery_ids == [event_id]  # retries reuse the id: accepted exactly once
    assert {h["webhook-id"] for h in hooks.headers} == {event_id}
    assert hooks.accepted[0]["type"] == "webhook.test" and hooks.accepted[0]["id"] == event_id
    assert [(a["attempt"], a["status_code"]) for a in log] == [(1, 500), (2, 500), (3, 200)]
    assert [a["next_retry_at"] is not None for a in log] == [True, True, False]
    assert all(a["latency_ms"] is not None and a["event_id"] == event_id for a in log)


async def test_410_disables_the_endpoint(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    hooks = Hooks(secret="", refuse_first=10**6, refuse_status=410)
    with webhook_receiver(hooks) as url:
        async with webhook_api(own_time_skipping_env, session_factory, settings) as api:
            made = await api.create(url)
            hooks.secret = made["secret"]
            endpoint_id = made["endpoint"]["id"]
            _, first = await api.test_event(endpoint_id)
            shown = (await api.client.get(f"{api.base}/{endpoint_id}", headers=api.admin)).json()
            _, second = await api.test_event(endpoint_id)
    assert first == second == "failed" and hooks.requests == 1
    assert shown["status"] == "disabled" and "410" in shown["disabled_reason"]


async def test_consecutive_failures_disable_the_endpoint_and_mail_the_admin(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    hooks = Hooks(secret="", refuse_first=10**6, refuse_status=503)
    with smtp_server() as (inbox, port), webhook_receiver(hooks) as url:
        async with webhook_api(own_time_skipping_env, session_factory, settings, smtp_port=port,
                               webhook_disable_after_failures=3) as api:
            made = await api.create(url)
            hooks.secret = made["secret"]
            endpoint_id = made["endpoint"]["id"]
            _, status = await api.test_event(endpoint_id)

            async def mails() -> Inbox:
                return inbox

            await eventually(mails, lambda i: len(i.to(api.org.org.admin_email)) == 1)
            shown = (await api.client.get(f"{api.base}/{endpoint_id}", headers=api.admin)).json()
    assert status == "failed" and hooks.requests == 3
    assert shown["status"] == "disabled" and shown["consecutive_failures"] == 3
    (mail,) = inbox.to(api.org.org.admin_email)
    assert "disabled" in mail.subject and url in mail.body


async def test_a_rotation_window_sends_two_signatures_that_each_verify(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    hooks = Hooks(secret="")
    with webhook_receiver(hooks) as url:
        async with webhook_api(own_time_skipping_env, session_factory, settings) as api:
            made = await api.create(url)
            old = made["secret"]
            endpoint_id = made["endpoint"]["id"]
            rotated = (await api.client.post(f"{api.base}/{endpoint_id}/rotate-secret",
                                             json={"overlap_hours": 24},
                                             headers=api.admin)).json()
            new = rotated["secret"]
            hooks.secret = new
            await api.test_event(endpoint_id)
            assert rotated["endpoint"]["rotation_ends_at"] is not None
            third = (await api.client.post(f"{api.base}/{endpoint_id}/rotate-secret",
                                           json={"overlap_hours": 0},
                                           headers=api.admin)).json()["secret"]
            hooks.secret = third
            with session_factory() as session:
                row = session.get_one(WebhookEndpoint, endpoint_id)
                assert row.previous_secret_sealed is None
            await api.test_event(endpoint_id)  # signed under the newest secret alone
    first, second = hooks.headers
    signatures = first["webhook-signature"].split(" ")
    assert len(signatures) == 2 and old != new
    body = hooks.bodies[0]
    for secret, signature in zip((new, old), signatures, strict=True):
        Webhook(secret).verify(body, {**first, "webhook-signature": signature})
    assert len(second["webhook-signature"].split(" ")) == 1
    Webhook(third).verify(hooks.bodies[1], second)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(hooks.bodies[1], second)  # the third secret signs it now
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(hooks.bodies[1], second)


def test_the_reference_package_refuses_tampered_stale_and_wrongly_signed_deliveries() -> None:
    """Our signatures, checked by the reference verifier: accepted as sent, refused when the
    body, the time or the secret is not the one signed."""
    secret, body = standard_webhooks.new_secret(), b'{"id":"evt_1","type":"webhook.test"}'
    now = int(datetime.now(UTC).timestamp())
    headers = standard_webhooks.headers([secret], "evt_1", now, body)
    assert Webhook(secret).verify(body, headers) == {"id": "evt_1", "type": "webhook.test"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"test", b"tost"), headers)
    stale = standard_webhooks.headers([secret], "evt_1",
                                      now - int(timedelta(minutes=10).total_seconds()), body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks.new_secret()).verify(body, headers)


async def test_queued_messages_name_the_endpoint_not_its_url(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    hooks = Hooks(secret="")
    with webhook_receiver(hooks) as url:
        async with webhook_api(own_time_skipping_env, session_factory, settings) as api:
            made = await api.create(url)
            hooks.secret = made["secret"]
            event_id, _ = await api.test_event(made["endpoint"]["id"])
    with session_factory() as session:
        (msg,) = session.scalars(select(OutboxMessage).where(
            OutboxMessage.channel == "webhook")).all()
    assert msg.recipient == made["endpoint"]["id"] and msg.status == "sent"
    assert msg.idempotency_key == f"wh:{event_id}:{made['endpoint']['id']}"
