"""The audit log over HTTP on both databases: newest first, filtered, paged, exported as NDJSON,
and never holding a secret or card data."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.cards import contains_card_number
from core.redaction import Redactor
from core.settings import Settings
from store.base import utcnow
from store.models import AuditEvent, Member, PaymentMethod
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys
from tests.support.db_snapshot import changed, fingerprint


async def _pages(client: httpx.AsyncClient, org_id: str, key: str, **query: Any
                 ) -> list[dict[str, Any]]:
    """Every event the filter matches, read page by page through the cursors."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await client.get(f"/orgs/{org_id}/audit", headers=bearer(key),
                                    params={**query, "cursor": cursor})
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


async def test_the_log_is_newest_first_filtered_and_paged(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, org.admin
    async with api_client(api_settings(settings)) as client:
        for limit in (5, 6, 7):
            assert (await client.put(
                f"/orgs/{org_id}/members/{org.member_id}/quotas/virtual_compute",
                headers=bearer(admin), json={"limit": limit})).status_code == 200
        assert (await client.patch(f"/orgs/{org_id}", headers=bearer(admin),
                                   json={"description": "audited"})).status_code == 200
        everything = await _pages(client, org_id, admin, limit=2)
        first = (await client.get(f"/orgs/{org_id}/audit", headers=bearer(admin))).json()
        quota = await _pages(client, org_id, admin, action="quota.set",
                             actor=f"key:{admin[:12]}")
        now = utcnow()
        future = await _pages(client, org_id, admin,
                              since=(now + timedelta(hours=1)).isoformat())
        past = await _pages(client, org_id, admin, until=(now + timedelta(hours=1)).isoformat())
    with session_factory() as session:
        stored = list(session.scalars(select(AuditEvent.id).where(
            AuditEvent.org_id == org_id).order_by(AuditEvent.id.desc())))
    assert [e["id"] for e in everything] == stored  # every event once, newest first
    assert [e["id"] for e in first["items"]] == stored[:50]
    assert everything[0]["action"] == "org.updated"
    assert [e["detail"]["new_limit"] for e in quota] == [7, 6, 5]
    assert all(e["actor"] == f"key:{admin[:12]}" for e in quota)
    assert future == [] and len(past) == len(stored)


async def test_bad_filters_are_422_problems_and_other_keys_are_refused(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    before = fingerprint(session_factory)
    async with api_client(api_settings(settings)) as client:
        for query in ({"since": "yesterday"}, {"until": "2026-01-01T00:00:00"},
                      {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                      {"actor": ""}, {"action": "x" * 101}):
            for path in ("audit", "audit/export"):
                problem(await client.get(f"/orgs/{org_id}/{path}", headers=admin,
                                         params=query), 422)
        pages: list[dict[str, str | int]] = [{"cursor": "abc"}, {"limit": 0}, {"limit": 201}]
        for page in pages:
            problem(await client.get(f"/orgs/{org_id}/audit", headers=admin, params=page), 422)
        problem(await client.get(f"/orgs/{org_id}/audit", headers=bearer(org.member)), 403)
        problem(await client.get("/orgs/" + "0" * 32 + "/audit", headers=admin), 403)
    assert changed(before, fingerprint(session_factory)) in ([], ["api_keys"])


async def test_export_streams_every_matching_event_as_ndjson(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, org.admin
    async with api_client(api_settings(settings)) as client:
        listed = await _pages(client, org_id, admin, limit=200)
        async with client.stream("GET", f"/orgs/{org_id}/audit/export",
                                 headers=bearer(admin)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            assert "attachment" in response.headers["content-disposition"]
            lines = [line async for line in response.aiter_lines() if line]
        filtered = await client.get(f"/orgs/{org_id}/audit/export", headers=bearer(admin),
                                    params={"action": "project.created"})
    exported = [json.loads(line) for line in lines]
    assert exported == listed and len(exported) > 10
    projects = [json.loads(line) for line in filtered.text.splitlines()]
    assert [e["target"] for e in projects] == [f"project:{p}" for p in
                                               reversed(org.org.project_ids)]


async def test_events_hold_ids_and_actors_never_secrets_or_card_data(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    """A journey of writes, then every event of the org (stored and exported) is scanned for
    key secrets, the card's provider token, card numbers and members' emails and names."""
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    secrets = [org.admin, org.member, org.project, org.expired, org.revoked]
    card_number = "4111 1111 1111 1111"
    async with api_client(api_settings(settings)) as client:
        made = await client.post(f"/orgs/{org_id}/keys", headers=admin, json={"name": "ci"})
        secrets.append(made.json()["secret"])
        made = await client.post(f"/orgs/{org_id}/projects/{org.org.project_ids[0]}/keys",
                                 headers=admin, json={"name": "p"})
        secrets.append(made.json()["secret"])
        card = {"token": "tok_visa_audit_0123456789", "brand": "visa", "last4": "1111",
                "exp_month": 12, "exp_year": utcnow().year + 3}
        assert (await client.put(f"/orgs/{org_id}/payment-method", headers=admin,
                                 json=card)).status_code == 200
        problem(await client.put(f"/orgs/{org_id}/payment-method", headers=admin,
                                 json={**card, "token": card_number}), 422)
        problem(await client.patch(f"/orgs/{org_id}", headers=admin,
                                   json={"description": f"card {card_number}"}), 422)
        assert (await client.put(
            f"/orgs/{org_id}/members/{org.member_id}/permissions/virtual_compute",
            headers=admin, json={"enabled": False})).status_code == 200
        exported = (await client.get(f"/orgs/{org_id}/audit/export", headers=admin)).text
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.org_id == org_id)).all()
        personal = [v for m in session.scalars(select(Member).where(Member.org_id == org_id))
                    for v in (m.email, m.name)]
        tokens = list(session.scalars(select(PaymentMethod.provider_token).where(
            PaymentMethod.org_id == org_id)))
    stored = "\n".join(json.dumps([e.actor, e.action, e.target, e.detail]) for e in events)
    assert {"payment_method.replaced", "api_key.created", "service_permission.set"} <= {
        e.action for e in events}
    redact = Redactor(secrets + tokens)
    for text in (stored, exported):
        for forbidden in secrets + tokens + personal:
            assert forbidden not in text
        assert not contains_card_number(text)
        assert redact(text) == text  # nothing that looks like a key or a bearer token
