"""Deleting the org's last admin-capable key is refused unless something else can still
administer it, or the request says so.

Why: an admin could delete the last key that administers the org and lock it out of the API.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keyformat
from core.settings import Settings
from store import apikeys, console_auth
from store.base import utcnow
from store.models import ApiKey
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys


def _key_id(sessions: sessionmaker[Session], secret: str, pepper: bytes) -> str:
    with sessions() as session:
        key_id = session.scalar(select(ApiKey.id).where(
            ApiKey.secret_hash == keyformat.hash_key(secret, pepper)))
    assert key_id is not None
    return key_id


async def test_the_last_admin_key_is_kept_unless_asked(session_factory: sessionmaker[Session],
                                                     settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    own = _key_id(session_factory, org.admin, settings.pepper_bytes)
    with session_factory() as session:
        others = sorted(apikeys.admin_capable_keys(session, org_id, utcnow()) - {own})
    async with api_client(api_settings(settings)) as client:
        if others:  # another admin key remains (the caller's own): allowed
            done = await client.post(f"/orgs/{org_id}/keys/bulk-delete", headers=admin, json={
                "ids": others, "confirm": f"DELETE {len(others)} KEYS"})
            assert done.status_code == 200, done.text
        refused = await client.delete(f"/orgs/{org_id}/keys/{own}", headers=admin)
        problem(refused, 409, "last-admin-key")
        refused = await client.post(f"/orgs/{org_id}/keys/bulk-delete", headers=admin, json={
            "ids": [own], "confirm": "DELETE 1 KEYS"})
        problem(refused, 409, "last-admin-key")
        assert (await client.get(f"/orgs/{org_id}", headers=admin)).status_code == 200

        # a member's key never counts as admin-capable: deleting it is fine
        member = _key_id(session_factory, org.member, settings.pepper_bytes)
        assert (await client.delete(f"/orgs/{org_id}/keys/{member}",
                                    headers=admin)).status_code == 200
        # asked explicitly: deleted, and the key stops working
        gone = await client.delete(f"/orgs/{org_id}/keys/{own}?allow_lockout=true",
                                   headers=admin)
        assert gone.status_code == 200, gone.text
        problem(await client.get(f"/orgs/{org_id}", headers=admin), 401)


async def test_a_signed_in_admin_lets_the_last_key_go(session_factory: sessionmaker[Session],
                                                     settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    own = _key_id(session_factory, org.admin, settings.pepper_bytes)
    with session_factory.begin() as session:
        others = apikeys.admin_capable_keys(session, org_id, utcnow()) - {own}
        for key in session.scalars(select(ApiKey).where(ApiKey.id.in_(others))):
            session.delete(key)
        console_auth.add_session(session, id_hash=b"s" * 32, org_id=org_id,
                                 member_id=org.org.admin_member_id, now=utcnow(),
                                 lifetime=timedelta(hours=1))
    async with api_client(api_settings(settings)) as client:
        done = await client.delete(f"/orgs/{org_id}/keys/{own}", headers=admin)
        assert done.status_code == 200, done.text
