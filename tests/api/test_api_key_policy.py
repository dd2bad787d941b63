"""The org's key policy over HTTP, on both databases: the admin sets the longest key lifetime
and the revocation of unused keys; a bad value is a 422 problem that writes nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store.models import AuditEvent, Organization
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys


async def test_admin_sets_the_unused_key_policy_and_it_is_audited(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id = org.org.org_id
    path, admin = f"/orgs/{org_id}/key-policy", bearer(org.admin)
    async with api_client(api_settings(settings)) as client:
        before = await client.get(f"/orgs/{org_id}", headers=admin)
        on = await client.put(path, headers=admin, json={
            "max_key_lifetime_days": 180, "revoke_unused_keys_after_days": 365})
        shown = await client.get(f"/orgs/{org_id}", headers=bearer(org.member))
        again = await client.put(path, headers=admin, json={
            "max_key_lifetime_days": 180, "revoke_unused_keys_after_days": 365})
        off = await client.put(path, headers=admin, json={
            "max_key_lifetime_days": 180, "revoke_unused_keys_after_days": None})
        by_member = await client.put(path, headers=bearer(org.member), json={
            "max_key_lifetime_days": 180, "revoke_unused_keys_after_days": 30})
        longer = await client.post(f"/orgs/{org_id}/keys", headers=admin,
                                   json={"name": "too-long", "expires_in_days": 200})
    assert before.json()["revoke_unused_keys_after_days"] is None
    assert on.status_code == 200, on.text
    assert on.json() == {"max_key_lifetime_days": 180, "revoke_unused_keys_after_days": 365}
    assert shown.json()["revoke_unused_keys_after_days"] == 365
    assert shown.json()["max_key_lifetime_days"] == 180
    assert again.status_code == 200
    assert off.json()["revoke_unused_keys_after_days"] is None
    problem(by_member, 403, "not-permitted")
    problem(longer, 422, "invalid-input")  # the new lifetime bounds new keys
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "org.key_policy_updated")
            .order_by(AuditEvent.id)).all()
    # the repeat changed nothing and left no event
    assert [e.detail for e in events] == [
        {"max_key_lifetime_days": {"from": 365, "to": 180},
         "revoke_unused_keys_after_days": {"from": None, "to": 365}},
        {"revoke_unused_keys_after_days": {"from": 365, "to": None}}]


async def test_out_of_range_policies_are_refused_and_write_nothing(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    path, admin = f"/orgs/{org.org.org_id}/key-policy", bearer(org.admin)
    bodies = [{"max_key_lifetime_days": 365, "revoke_unused_keys_after_days": 7},
              {"max_key_lifetime_days": 365, "revoke_unused_keys_after_days": 0},
              {"max_key_lifetime_days": 365, "revoke_unused_keys_after_days": 3651},
              {"max_key_lifetime_days": 365, "revoke_unused_keys_after_days": "soon"},
              {"max_key_lifetime_days": 0, "revoke_unused_keys_after_days": 90},
              {"max_key_lifetime_days": 365, "revoke_unused_keys_after_days": 90,
               "extra": 1},
              {"revoke_unused_keys_after_days": 90}]
    async with api_client(api_settings(settings)) as client:
        answers = [await client.put(path, headers=admin, json=b) for b in bodies]
        edges = [await client.put(path, headers=admin, json={
            "max_key_lifetime_days": 3650, "revoke_unused_keys_after_days": d})
            for d in (8, 3650)]
    for answer in answers:
        problem(answer, 422, "invalid-input")
    assert [e.status_code for e in edges] == [200, 200]
    with session_factory() as session:
        row = session.get_one(Organization, org.org.org_id)
        refused = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "org.key_policy_updated")).all()
    assert row.revoke_unused_keys_after_days == 3650 and len(refused) == 2
