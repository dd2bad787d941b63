"""Org settings and the payment method over HTTP, on both databases."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import SEED_ACTOR, OrgShape
from store.models import AuditEvent, Organization, PaymentMethod, PaymentStatus
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys

CARD = {"token": "tok_1N3x9Q", "brand": "visa", "last4": "4242", "exp_month": 12,
        "exp_year": 2099}


async def test_org_shows_the_admin_and_payment_attention(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    bare = seed_with_keys(session_factory, settings, OrgShape(card=False, projects=2))
    with session_factory.begin() as session:
        card = session.scalars(select(PaymentMethod).where(
            PaymentMethod.org_id == org.org.org_id)).one()
        card.status = PaymentStatus.UNAVAILABLE
    async with api_client(api_settings(settings)) as client:
        as_member = await client.get(f"/orgs/{org.org.org_id}", headers=bearer(org.member))
        no_card = await client.get(f"/orgs/{bare.org.org_id}", headers=bearer(bare.admin))
        fixed = await client.put(f"/orgs/{org.org.org_id}/payment-method",
                                 headers=bearer(org.admin), json=CARD)
        after = await client.get(f"/orgs/{org.org.org_id}", headers=bearer(org.admin))
        shown = await client.get(f"/orgs/{org.org.org_id}/payment-method",
                                 headers=bearer(org.admin))
    body = as_member.json()
    assert as_member.status_code == 200
    assert body["admin"]["member_id"] == org.org.admin_member_id
    assert body["admin"]["email"] == org.org.admin_email
    assert body["payment_attention"] and body["payment_message"] == "Check your payment settings"
    assert no_card.json()["payment_attention"]
    assert fixed.status_code == 200, fixed.text
    assert not after.json()["payment_attention"] and after.json()["payment_message"] is None
    assert shown.json()["masked"] == "**** 4242" and "tok_" not in shown.text


async def test_patch_changes_basic_info_but_never_the_admin(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    path, admin = f"/orgs/{org.org.org_id}", bearer(org.admin)
    async with api_client(api_settings(settings)) as client:
        ok = await client.patch(path, headers=admin, json={
            "description": "new", "timezone": "Asia/Taipei", "website": "https://x.example"})
        admin_change = await client.patch(path, headers=admin, json={
            "description": "sneaky", "admin_member_id": org.member_id})
        admin_object = await client.patch(path, headers=admin, json={"admin": {"id": "x"}})
        bad_tz = await client.patch(path, headers=admin, json={"timezone": "Mars/Olympus"})
        unknown = await client.patch(path, headers=admin, json={"status": "deleting"})
        bad_email = await client.patch(path, headers=admin, json={"contact_email": "nope"})
    assert ok.status_code == 200 and ok.json()["timezone"] == "Asia/Taipei"
    for refused in (admin_change, admin_object):
        assert "admin account cannot be changed" in problem(refused, 409, "admin-immutable")[
            "detail"]
    for invalid in (bad_tz, unknown, bad_email):
        problem(invalid, 422, "invalid-input")
    with session_factory() as session:
        row = session.get(Organization, org.org.org_id)
        assert row is not None
        assert row.admin_member_id == org.org.admin_member_id and row.description == "new"
        updates = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "org.updated")).all()
    assert len(updates) == 1 and updates[0].detail["fields"] == [
        "description", "timezone", "website"]


@pytest.mark.parametrize("body", [
    {**CARD, "token": "4242424242424242"},
    {**CARD, "token": "tok_ok", "brand": "visa 4111 1111 1111 1111"},
    {**CARD, "note": "5555-5555-5555-4444"},
    {**CARD, "token": 378282246310005},
    '{"token": "4000056655665556", broken json',
], ids=["token", "brand-spaces", "extra-field-dashes", "amex-number", "malformed-json"])
async def test_a_card_number_is_refused_and_not_stored(
        body: object, session_factory: sessionmaker[Session], settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    org = seed_with_keys(session_factory, settings, OrgShape(card=False, projects=2))
    path = f"/orgs/{org.org.org_id}/payment-method"
    async with api_client(api_settings(settings)) as client:
        if isinstance(body, str):
            response = await client.put(path, headers={**bearer(org.admin),
                                                       "content-type": "application/json"},
                                        content=body)
        else:
            response = await client.put(path, headers=bearer(org.admin), json=body)
        shown = await client.get(path, headers=bearer(org.admin))
    # malformed JSON is refused by the parser before our scan; 422 and nothing kept either way
    problem(response, 422, None if isinstance(body, str) else "card-number-refused")
    problem(shown, 404)
    digits = ("4242424242424242", "4111 1111 1111 1111", "5555-5555-5555-4444",
              "378282246310005", "4000056655665556")
    assert not any(d in response.text or d in caplog.text for d in digits)
    with session_factory() as session:
        assert session.scalars(select(PaymentMethod).where(
            PaymentMethod.org_id == org.org.org_id)).all() == []
        assert session.scalars(select(AuditEvent).where(
            AuditEvent.actor != SEED_ACTOR)).all() == []


async def test_expired_card_and_bad_fields_are_refused(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    path = f"/orgs/{org.org.org_id}/payment-method"
    async with api_client(api_settings(settings)) as client:
        expired = await client.put(path, headers=bearer(org.admin),
                                   json={**CARD, "exp_year": 2001})
        last4 = await client.put(path, headers=bearer(org.admin), json={**CARD, "last4": "42"})
    problem(expired, 422)
    problem(last4, 422)
