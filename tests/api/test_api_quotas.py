"""Quotas over HTTP: admins see and set everyone's, members read only their own."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import SEED_ACTOR
from store.models import AuditEvent, Quota, Service
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys


async def test_admin_sets_and_reads_members_read_their_own(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    other = seed_with_keys(session_factory, settings)
    org_id, admin, member = org.org.org_id, bearer(org.admin), bearer(org.member)
    async with api_client(api_settings(settings)) as client:
        put = await client.put(
            f"/orgs/{org_id}/members/{org.member_id}/quotas/virtual_compute", headers=admin,
            json={"limit": 77})
        whole = await client.get(f"/orgs/{org_id}/quotas", headers=admin)
        own = await client.get(f"/orgs/{org_id}/quotas", headers=member)
        own_direct = await client.get(f"/orgs/{org_id}/members/{org.member_id}/quotas",
                                      headers=member)
        someone_else = await client.get(
            f"/orgs/{org_id}/members/{org.org.admin_member_id}/quotas", headers=member)
        member_sets = await client.put(
            f"/orgs/{org_id}/members/{org.member_id}/quotas/virtual_compute", headers=member,
            json={"limit": 1000})
        foreign_member = await client.put(
            f"/orgs/{org_id}/members/{other.member_id}/quotas/virtual_compute", headers=admin,
            json={"limit": 1})
        negative = await client.put(
            f"/orgs/{org_id}/members/{org.member_id}/quotas/virtual_compute", headers=admin,
            json={"limit": -1})
        bad_service = await client.put(
            f"/orgs/{org_id}/members/{org.member_id}/quotas/gpu", headers=admin,
            json={"limit": 1})
    assert put.status_code == 200 and put.json()["limit"] == 77
    with session_factory() as session:
        rows = session.scalars(select(Quota).where(Quota.org_id == org_id)).all()
        audit = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "quota.set", AuditEvent.actor != SEED_ACTOR)).one()
    services = {s["service"]: s for s in whole.json()["services"]}
    assert set(services) == {s.value for s in Service}
    vc = services["virtual_compute"]
    assert vc["limit_total"] == sum(r.limit for r in rows if r.service is Service.VIRTUAL_COMPUTE)
    assert len(vc["members"]) == 3
    mine = {s["service"]: s for s in own.json()["services"]}
    assert mine["virtual_compute"]["limit_total"] is None
    assert [m["member_id"] for m in mine["virtual_compute"]["members"]] == [org.member_id]
    assert mine["virtual_compute"]["members"][0]["limit"] == 77
    assert own_direct.status_code == 200
    problem(someone_else, 403)
    problem(member_sets, 403)
    problem(foreign_member, 404)
    problem(negative, 422)
    problem(bad_service, 422)
    assert audit.detail["new_limit"] == 77 and audit.detail["old_limit"] is not None
