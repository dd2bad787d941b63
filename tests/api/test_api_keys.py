"""API key management over HTTP on both databases: the secret is shown once and kept nowhere."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import LargeBinary, String, Text, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store import orgs
from store.base import Base, utcnow
from store.models import ApiKey, AuditEvent, KeyTombstone, OrgStatus
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    key_row,
    problem,
    seed_with_keys,
    set_status,
)


def _everything_stored(session: Session) -> str:
    """Every text and bytes column of every table, as one string to search."""
    parts = []
    for table in Base.metadata.sorted_tables:
        cols = [c for c in table.columns
                if isinstance(c.type, String | Text | LargeBinary) or c.name == "detail"]
        for row in session.execute(select(*cols)).all() if cols else []:
            for value in row:
                if isinstance(value, bytes):
                    parts.append(value.decode("latin-1"))
                else:
                    parts.append(str(value))
    return "\n".join(parts)


async def test_secret_is_shown_once_and_stored_and_logged_nowhere(
        session_factory: sessionmaker[Session], settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    async with api_client(api_settings(settings)) as client:
        created = await client.post(f"/orgs/{org_id}/keys", headers=admin,
                                    json={"name": "ci", "expires_in_days": 30})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert created.headers["cache-control"] == "no-store"
        works = await client.get(f"/orgs/{org_id}", headers=bearer(secret))
        later = [await client.get(f"/orgs/{org_id}/keys", headers=admin),
                 await client.get(f"/orgs/{org_id}/keys", headers=bearer(secret)),
                 await client.get(f"/orgs/{org_id}", headers=admin)]
        project = await client.post(f"/orgs/{org_id}/projects/{org.org.project_ids[0]}/keys",
                                    headers=admin, json={"name": "p"})
    assert works.status_code == 200
    assert secret.startswith("olt_") and created.json()["key"]["prefix"] == secret[:12]
    assert project.status_code == 201 and project.json()["secret"].startswith("olp_")
    for response in later:
        assert response.status_code == 200 and secret not in response.text
        assert "secret" not in response.text
    with session_factory() as session:
        stored = _everything_stored(session)
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            stored += str(session.execute(text("SELECT * FROM api_keys")).all())
    for made in (secret, project.json()["secret"]):
        assert made[:12] in stored  # the scan does reach the key rows
        assert made not in stored
        assert made[12:] not in stored  # not even the part after the public prefix
        assert made not in caplog.text and made[12:] not in caplog.text


async def test_list_paginates_with_status(session_factory: sessionmaker[Session],
                                          settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    with session_factory.begin() as session:
        expiring = key_row(session, org.member)
        assert expiring is not None
        expiring.expires_at = utcnow() + timedelta(days=2)
    seen: list[dict[str, object]] = []
    cursor = ""
    async with api_client(api_settings(settings)) as client:
        while True:
            page = await client.get(f"/orgs/{org_id}/keys", headers=admin,
                                    params={"limit": 2, "cursor": cursor})
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
            assert len(page.json()["items"]) == 2
    with session_factory() as session:
        total = len(session.scalars(select(ApiKey.id).where(ApiKey.org_id == org_id)).all())
    assert len(seen) == total == len({k["id"] for k in seen})
    by_prefix = {k["prefix"]: k["status"] for k in seen}
    assert by_prefix[org.expired[:12]] == "expired"
    assert by_prefix[org.revoked[:12]] == "revoked"
    assert by_prefix[org.member[:12]] == "expiring"
    assert by_prefix[org.project[:12]] == "active"
    assert all("secret_hash" not in k for k in seen)


async def test_extend_is_capped_and_audited(session_factory: sessionmaker[Session],
                                            settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    with session_factory() as session:
        row = key_row(session, org.member)
        assert row is not None
        key_id, old = row.id, row.expires_at
        revoked = key_row(session, org.revoked)
        assert revoked is not None
    async with api_client(api_settings(settings)) as client:
        ok = await client.post(f"/orgs/{org_id}/keys/{key_id}/extend", headers=admin,
                               json={"days": 30})
        too_far = await client.post(f"/orgs/{org_id}/keys/{key_id}/extend", headers=admin,
                                    json={"days": 300})
        dead = await client.post(f"/orgs/{org_id}/keys/{revoked.id}/extend", headers=admin,
                                 json={"days": 1})
        bad = await client.post(f"/orgs/{org_id}/keys/{key_id}/extend", headers=admin,
                                json={"days": 0})
    assert ok.status_code == 200, ok.text
    new = ok.json()["expires_at"]
    with session_factory() as session:
        row = key_row(session, org.member)
        assert row is not None and row.expires_at == old + timedelta(days=30)
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "api_key.extended")).one()
    assert new.startswith((old + timedelta(days=30)).isoformat()[:19])
    assert event.detail["old_expires_at"] == old.isoformat()
    assert event.detail["new_expires_at"] == row.expires_at.isoformat()
    assert "365 days" in problem(too_far, 422, "invalid-input")["detail"]
    problem(dead, 409)
    problem(bad, 422)


async def test_delete_one_and_many_leave_tombstones(session_factory: sessionmaker[Session],
                                                    settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    with session_factory() as session:
        ids = {name: r.id for name, secret in
               [("member", org.member), ("expired", org.expired), ("revoked", org.revoked)]
               if (r := key_row(session, secret)) is not None}
    path = f"/orgs/{org_id}/keys"
    async with api_client(api_settings(settings)) as client:
        one = await client.delete(f"{path}/{ids['member']}", headers=admin)
        gone = await client.get(f"/orgs/{org_id}", headers=bearer(org.member))
        pair = [ids["expired"], ids["revoked"]]
        wrong_phrase = await client.post(f"{path}/bulk-delete", headers=admin,
                                         json={"ids": pair, "confirm": "DELETE 3 KEYS"})
        with_typo = await client.post(f"{path}/bulk-delete", headers=admin,
                                      json={"ids": [*pair, "nope"], "confirm": "DELETE 3 KEYS"})
        with session_factory() as session:  # refused calls deleted nothing
            assert session.get(ApiKey, ids["expired"]) is not None
        many = await client.post(f"{path}/bulk-delete", headers=admin,
                                 json={"ids": pair, "confirm": "DELETE 2 KEYS"})
        again = await client.delete(f"{path}/{ids['member']}", headers=admin)
    assert one.status_code == 200 and one.json()["prefix"] == org.member[:12]
    problem(gone, 401)
    problem(wrong_phrase, 422)
    assert problem(with_typo, 404)["missing"] == ["nope"]
    assert many.status_code == 200 and many.json()["deleted"] == 2
    problem(again, 404)
    with session_factory() as session:
        stones = session.scalars(select(KeyTombstone).where(
            KeyTombstone.org_id == org_id, KeyTombstone.key_id.in_(ids.values()))).all()
        left = session.scalars(select(ApiKey.id).where(ApiKey.id.in_(ids.values()))).all()
    assert left == []
    assert {s.key_id for s in stones} == set(ids.values())
    assert {s.deleted_by for s in stones} == {f"key:{org.admin[:12]}"}


async def test_frozen_org_gets_no_new_keys(session_factory: sessionmaker[Session],
                                           settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    set_status(session_factory, org.org.org_id, OrgStatus.FROZEN)
    async with api_client(api_settings(settings)) as client:
        response = await client.post(f"/orgs/{org.org.org_id}/keys",
                                     headers=bearer(org.admin), json={"name": "late"})
    problem(response, 403, "org-frozen")
    with session_factory() as session:
        assert session.scalars(select(ApiKey).where(ApiKey.name == "late")).all() == []
        # the guard under every write, for a key that authenticated just before the freeze
        with pytest.raises(orgs.OrgNotActive):
            orgs.lock_active_org(session, org.org.org_id)
