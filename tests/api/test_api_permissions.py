"""Service permissions over HTTP on both databases: the admin switches them, a member reads
their own, and a member's key is refused on a service turned off for them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import SEED_ACTOR
from store.models import AuditEvent, OrgStatus
from store.permission_models import ServicePermission
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    set_status,
)
from tests.support.db_snapshot import changed, fingerprint


def _events(sessions: sessionmaker[Session], org_id: str) -> list[dict[str, object]]:
    with sessions() as session:
        return [e.detail for e in session.scalars(select(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "service_permission.set",
            AuditEvent.actor != SEED_ACTOR).order_by(AuditEvent.id))]


async def test_a_member_may_not_use_a_service_turned_off_for_them(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin, member = org.org.org_id, bearer(org.admin), bearer(org.member)
    base = f"/orgs/{org_id}/members/{org.member_id}"
    async with api_client(api_settings(settings)) as client:
        before = await client.get(f"/orgs/{org_id}/quotas?service=virtual_compute",
                                  headers=member)
        off = await client.put(f"{base}/permissions/virtual_compute", headers=admin,
                               json={"enabled": False})
        again = await client.put(f"{base}/permissions/virtual_compute", headers=admin,
                                 json={"enabled": False})
        refused = await client.get(f"/orgs/{org_id}/quotas?service=virtual_compute",
                                   headers=member)
        allowed = await client.get(f"/orgs/{org_id}/quotas?service=container_compute",
                                   headers=member)
        own = await client.get(f"/orgs/{org_id}/quotas", headers=member)
        whole = await client.get(f"/orgs/{org_id}/quotas", headers=admin)
        listed = await client.get(f"/orgs/{org_id}/permissions", headers=admin)
        mine = await client.get(f"/orgs/{org_id}/permissions", headers=member)
        direct = await client.get(f"{base}/permissions", headers=member)
        on = await client.put(f"{base}/permissions/virtual_compute", headers=admin,
                              json={"enabled": True})
        back = await client.get(f"/orgs/{org_id}/quotas?service=virtual_compute",
                                headers=member)
    assert before.status_code == 200
    assert off.status_code == 200 and off.json()["services"] == {
        "container_compute": True, "virtual_compute": False}
    assert again.status_code == 200
    body = problem(refused, 403, "service-not-permitted")
    assert body["service"] == "virtual_compute"
    assert allowed.status_code == 200
    shown = {s["service"]: s["members"] for s in own.json()["services"]}
    assert [m["permitted"] for m in shown["virtual_compute"]] == [False]
    assert [m["permitted"] for m in shown["container_compute"]] == [True]
    everyone = {s["service"]: {m["member_id"]: m["permitted"] for m in s["members"]}
                for s in whole.json()["services"]}
    assert everyone["virtual_compute"][org.member_id] is False
    assert everyone["virtual_compute"][org.org.admin_member_id] is True
    items = listed.json()["items"]
    assert len(items) == 3 and listed.json()["next_cursor"] is None
    assert [i["is_admin"] for i in items].count(True) == 1
    assert [i["member_id"] for i in mine.json()["items"]] == [org.member_id]
    assert direct.json()["services"]["virtual_compute"] is False
    assert on.status_code == 200 and back.status_code == 200
    # one event per change: off, then on (the repeated "off" changed nothing)
    assert _events(session_factory, org_id) == [
        {"service": "virtual_compute", "enabled": False},
        {"service": "virtual_compute", "enabled": True}]


async def test_refusals_are_problems_that_write_nothing(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    other = seed_with_keys(session_factory, settings)
    frozen = seed_with_keys(session_factory, settings)
    set_status(session_factory, frozen.org.org_id, OrgStatus.FROZEN)
    org_id, admin = org.org.org_id, bearer(org.admin)
    base = f"/orgs/{org_id}/members/{org.member_id}/permissions"
    before = fingerprint(session_factory)
    async with api_client(api_settings(settings)) as client:
        problem(await client.put(f"/orgs/{org_id}/members/{org.org.admin_member_id}"
                                 "/permissions/virtual_compute", headers=admin,
                                 json={"enabled": False}), 409, "admin-immutable")
        problem(await client.put(f"{base}/gpu", headers=admin, json={"enabled": False}), 422)
        bodies: list[object] = [{"enabled": "no"}, {"enabled": 0}, {},
                                {"enabled": False, "x": 1}, []]
        for body in bodies:
            problem(await client.put(f"{base}/virtual_compute", headers=admin, json=body), 422)
        problem(await client.put(f"/orgs/{org_id}/members/{other.member_id}/permissions"
                                 "/virtual_compute", headers=admin,
                                 json={"enabled": False}), 404)
        problem(await client.put(f"{base}/virtual_compute", headers=bearer(org.member),
                                 json={"enabled": True}), 403)
        problem(await client.get(f"/orgs/{org_id}/members/{org.org.admin_member_id}"
                                 "/permissions", headers=bearer(org.member)), 403)
        problem(await client.get(f"/orgs/{org_id}/permissions?cursor=" + "x" * 65,
                                 headers=admin), 422)
        problem(await client.put(
            f"/orgs/{frozen.org.org_id}/members/{frozen.member_id}/permissions/virtual_compute",
            headers=bearer(frozen.admin), json={"enabled": False}), 403, "org-frozen")
    # only the keys' last-used stamps moved
    assert changed(before, fingerprint(session_factory)) in ([], ["api_keys"])
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ServicePermission)) == 0


async def test_the_permission_list_pages_with_a_cursor(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    seen: list[str] = []
    cursor = ""
    async with api_client(api_settings(settings)) as client:
        while True:
            page = await client.get(f"/orgs/{org_id}/permissions", headers=admin,
                                    params={"limit": 1, "cursor": cursor})
            assert page.status_code == 200, page.text
            seen += [i["member_id"] for i in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == 3 and seen == sorted(seen)
