"""Orgs and members over HTTP: sign-up, the operators' directory, invitations (single use,
expiry, another org's token refused), roles, and a removal run by the real offboarding
workflow on the time-skipping server, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import SEED_ACTOR
from store.base import utcnow
from store.member_models import MemberInvitation
from store.models import AuditEvent, OrgStatus, OutboxMessage
from store.permission_models import ServicePermission
from tests.support.api_support import (
    OPERATOR_TOKEN,
    api_client,
    api_settings,
    bearer,
    mint,
    problem,
    seed_with_keys,
    set_status,
)
from tests.support.db_snapshot import changed, fingerprint
from tests.support.member_support import mailed_token, member_rows
from tests.support.teardown_support import eventually, teardown_worker

OPERATOR = bearer(OPERATOR_TOKEN)
NEW_ORG = {"name": "Acme Research", "admin_email": "ada@acme.example", "admin_name": "Ada",
           "timezone": "Europe/Berlin"}


async def test_operator_creates_an_org_whose_admin_key_works_once_shown(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    async with api_client(api_settings(settings)) as api:
        before = fingerprint(session_factory)
        refused = [await api.post("/orgs", json=NEW_ORG),
                   await api.post("/orgs", json=NEW_ORG, headers=bearer(org.admin))]
        bad = await api.post("/orgs", json={**NEW_ORG, "admin_email": "nope"}, headers=OPERATOR)
        assert changed(before, fingerprint(session_factory)) in ([], ["api_keys"])
        made = await api.post("/orgs", json=NEW_ORG, headers=OPERATOR)
        body = made.json()
        key = body["key"]["secret"]
        read = await api.get(f"/orgs/{body['org']['id']}", headers=bearer(key))
        other = await api.get(f"/orgs/{org.org.org_id}", headers=bearer(key))
        listed = await api.get("/ops/orgs", params={"q": "ACME res"}, headers=OPERATOR)
        by_key = await api.get("/ops/orgs", headers=bearer(key))
    for response in refused:
        problem(response, 401, "unauthorized")
    problem(bad, 422, "invalid-input")
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    assert body["admin"]["is_admin_account"] and body["admin"]["role"] == "admin"
    assert body["org"]["admin"]["member_id"] == body["admin"]["id"]
    assert read.status_code == 200 and read.json()["timezone"] == "Europe/Berlin"
    problem(other, 403, "not-permitted")
    assert [o["id"] for o in listed.json()["items"]] == [body["org"]["id"]]
    assert listed.json()["items"][0]["members"] == 1
    problem(by_key, 401)
    with session_factory() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(
            AuditEvent.org_id == body["org"]["id"])))
    assert {"org.created", "api_key.created"} <= actions


async def test_open_sign_up_is_limited_per_client_address(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    open_signup = api_settings(settings, org_signup="open", org_signup_per_hour=2)
    async with api_client(open_signup) as api:
        made = [await api.post("/orgs", json={**NEW_ORG, "name": f"open-{i}"})
                for i in range(3)]
        operator = await api.post("/orgs", json={**NEW_ORG, "name": "by-operator"},
                                  headers=OPERATOR)
    assert [r.status_code for r in made[:2]] == [201, 201]
    problem(made[2], 429, "too-many-requests")
    assert operator.status_code == 201


async def test_ops_orgs_filters_by_status_and_pages(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    orgs = [seed_with_keys(session_factory, settings) for _ in range(3)]
    set_status(session_factory, orgs[0].org.org_id, OrgStatus.FROZEN)
    async with api_client(api_settings(settings)) as api:
        frozen = await api.get("/ops/orgs", params={"status": "frozen"}, headers=OPERATOR)
        pages: list[str] = []
        cursor = ""
        while True:
            page = (await api.get("/ops/orgs", params={"limit": 1, "cursor": cursor},
                                  headers=OPERATOR)).json()
            pages += [o["id"] for o in page["items"]]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        bad = await api.get("/ops/orgs", params={"status": "gone"}, headers=OPERATOR)
    assert [o["id"] for o in frozen.json()["items"]] == [orgs[0].org.org_id]
    assert sorted(pages) == sorted(o.org.org_id for o in orgs)
    problem(bad, 422)


async def _invite(api: httpx.AsyncClient, org_id: str, key: str, email: str,
                  role: str = "member") -> dict[str, Any]:
    response = await api.post(f"/orgs/{org_id}/invitations", headers=bearer(key),
                              json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_invitation_tokens_are_single_use_expire_and_stay_in_their_org(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    other = seed_with_keys(session_factory, settings)
    org_id = org.org.org_id
    accept = f"/orgs/{org_id}/invitations/accept"
    async with api_client(api_settings(settings)) as api:
        first = await _invite(api, org_id, org.admin, "grace@example.com")
        twice = await api.post(f"/orgs/{org_id}/invitations", headers=bearer(org.admin),
                               json={"email": "GRACE@example.com"})
        member_address = await api.post(f"/orgs/{org_id}/invitations",
                                        headers=bearer(org.admin),
                                        json={"email": org.org.emails[1]})
        token = mailed_token(session_factory, first["id"])
        foreign = await api.post(f"/orgs/{other.org.org_id}/invitations/accept",
                                 json={"token": token})
        joined = await api.post(accept, json={"token": token, "name": "Grace"})
        again = await api.post(accept, json={"token": token})
        new_key = joined.json()["key"]["secret"]
        as_member = await api.get(f"/orgs/{org_id}/members", headers=bearer(new_key))
        as_member_write = await api.post(f"/orgs/{org_id}/invitations",
                                         headers=bearer(new_key), json={"email": "x@y.zz"})

        late = await _invite(api, org_id, org.admin, "late@example.com", role="admin")
        late_token = mailed_token(session_factory, late["id"])
        with session_factory.begin() as session:  # its TTL passed
            session.execute(update(MemberInvitation).where(MemberInvitation.id == late["id"])
                            .values(expires_at=utcnow() - timedelta(seconds=1)))
        expired = await api.post(accept, json={"token": late_token})
        resent = await api.post(f"/orgs/{org_id}/invitations/{late['id']}/resend",
                                headers=bearer(org.admin))
        new_token = mailed_token(session_factory, late["id"])
        old_link = await api.post(accept, json={"token": late_token})
        admin_joined = await api.post(accept, json={"token": new_token})

        gone = await _invite(api, org_id, org.admin, "gone@example.com")
        gone_token = mailed_token(session_factory, gone["id"])
        revoked = await api.delete(f"/orgs/{org_id}/invitations/{gone['id']}",
                                   headers=bearer(org.admin))
        after_revoke = await api.post(accept, json={"token": gone_token})
        listed = await api.get(f"/orgs/{org_id}/invitations", headers=bearer(org.admin))

    problem(twice, 409, "invitation-open")
    problem(member_address, 409, "already-a-member")
    problem(foreign, 400, "invitation-not-valid")
    assert joined.status_code == 201, joined.text
    assert joined.json()["member"]["role"] == "member"
    problem(again, 400, "invitation-not-valid")
    assert as_member.status_code == 200
    problem(as_member_write, 403, "not-permitted")
    problem(expired, 400, "invitation-not-valid")
    assert resent.status_code == 200 and resent.json()["sends"] == 2
    assert resent.json()["status"] == "pending"
    problem(old_link, 400, "invitation-not-valid")
    assert admin_joined.status_code == 201 and admin_joined.json()["member"]["role"] == "admin"
    assert not admin_joined.json()["member"]["is_admin_account"]
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    problem(after_revoke, 400, "invitation-not-valid")
    statuses = {i["email"]: i["status"] for i in listed.json()["items"]}
    assert statuses == {"grace@example.com": "accepted", "late@example.com": "accepted",
                        "gone@example.com": "revoked"}
    with session_factory() as session:  # no usable link rests in the outbox
        assert session.scalar(select(func.count()).select_from(MemberInvitation)) == 3
        for inv_id in (first["id"], late["id"], gone["id"]):
            for body in session.scalars(select(OutboxMessage.body).where(
                    OutboxMessage.idempotency_key.startswith(f"invitation:{inv_id}:"))):
                assert "token=" not in body


async def test_roles_change_but_never_the_admin_accounts(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id = org.org.org_id
    async with api_client(api_settings(settings)) as api:
        admin_path = f"/orgs/{org_id}/members/{org.org.admin_member_id}"
        demote_admin = await api.patch(admin_path, headers=bearer(org.admin),
                                       json={"role": "member"})
        remove_admin = await api.delete(admin_path, headers=bearer(org.admin))
        promoted = await api.patch(f"/orgs/{org_id}/members/{org.member_id}",
                                   headers=bearer(org.admin), json={"role": "admin"})
        now_admin = await api.get(f"/orgs/{org_id}/invitations", headers=bearer(org.member))
        bad_role = await api.patch(f"/orgs/{org_id}/members/{org.member_id}",
                                   headers=bearer(org.admin), json={"role": "owner"})
        unknown = await api.patch(f"/orgs/{org_id}/members/nobody",
                                  headers=bearer(org.admin), json={"role": "member"})
    problem(demote_admin, 409, "admin-immutable")
    problem(remove_admin, 409, "admin-immutable")
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert now_admin.status_code == 200
    problem(bad_role, 422)
    problem(unknown, 404)


async def test_removal_refuses_keys_at_once_then_offboards_with_exact_counts(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, member_id = org.org.org_id, org.member_id
    second = mint(session_factory, settings, org_id, member_id)
    client = time_skipping_env.client
    path = f"/orgs/{org_id}/members/{member_id}"
    async with teardown_worker(client, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), client) as api:
        switched = await api.put(f"{path}/permissions/virtual_compute",
                                 headers=bearer(org.admin), json={"enabled": False})
        by_member = await api.delete(path, headers=bearer(org.member))
        started = await api.delete(path, headers=bearer(org.admin))
        refused = await api.get(f"/orgs/{org_id}", headers=bearer(second))
        done = await eventually(
            lambda: _removal(api, f"{path}/removal", org.admin),
            lambda body: body["status"] == "completed")
        members = await api.get(f"/orgs/{org_id}/members", headers=bearer(org.admin))
        again = await api.delete(path, headers=bearer(org.admin))
    assert switched.status_code == 200, switched.text
    problem(by_member, 403, "not-permitted")
    assert started.status_code == 202, started.text
    assert started.json()["workflow_id"] == f"member-offboarding-{member_id}"
    problem(refused, 401, "unauthorized")
    counts = {s["name"]: s["count"] for s in done["steps"]}
    assert counts == {"revoke_keys": 2, "release_quotas": 2, "end_sessions": 0, "notify": 2,
                      "remove_member": 1}
    assert member_id not in [m["id"] for m in members.json()["items"]]
    problem(again, 404)
    assert member_rows(session_factory, member_id) == {
        "members": 0, "live_team_keys": 0, "quotas": 0, "console_sessions": 0,
        "service_permissions": 0}
    with session_factory() as session:
        actors = set(session.scalars(select(AuditEvent.actor).where(
            AuditEvent.target == f"member:{member_id}", AuditEvent.actor != SEED_ACTOR)))
        switches = session.scalars(select(ServicePermission).where(
            ServicePermission.member_id == member_id)).all()
    assert actors == {f"key:{org.admin[:12]}"}
    assert switches == []  # the member's service permissions went with their quotas


async def _removal(api: httpx.AsyncClient, path: str, key: str) -> dict[str, Any]:
    response = await api.get(path, headers=bearer(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_auth_matrix_of_the_routes_that_act_on_one_member_or_invitation(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    """Admin team key, member team key, project key, operator, another org's key and a
    frozen org, over resend, revoke, remove, accept, sign-up and the org directory."""
    org = seed_with_keys(session_factory, settings)
    other = seed_with_keys(session_factory, settings)
    frozen = seed_with_keys(session_factory, settings)
    org_id = org.org.org_id
    async with api_client(api_settings(settings), time_skipping_env.client) as api:
        invited = [await _invite(api, org_id, org.admin, f"m{i}@example.com") for i in range(2)]
        frozen_inv = await _invite(api, frozen.org.org_id, frozen.admin, "f@example.com")
        frozen_token = mailed_token(session_factory, frozen_inv["id"])
        set_status(session_factory, frozen.org.org_id, OrgStatus.FROZEN)
        routes = {
            "resend": ("POST", f"/orgs/{org_id}/invitations/{invited[0]['id']}/resend"),
            "revoke": ("DELETE", f"/orgs/{org_id}/invitations/{invited[1]['id']}"),
            "remove": ("DELETE", f"/orgs/{org_id}/members/{org.member_id}"),
        }
        keys = {"member": org.member, "project": org.project, "operator": OPERATOR_TOKEN,
                "other_org": other.admin}
        before = fingerprint(session_factory)
        refused = {(route, who): await api.request(method, path, headers=bearer(key))
                   for route, (method, path) in routes.items() for who, key in keys.items()}
        frozen_calls = [
            await api.post(f"/orgs/{frozen.org.org_id}/invitations/{frozen_inv['id']}/resend",
                           headers=bearer(frozen.admin)),
            await api.post(f"/orgs/{frozen.org.org_id}/invitations/accept",
                           json={"token": frozen_token})]
        # refused: only the keys' last use and the failed attempts the auth throttle counts
        assert set(changed(before, fingerprint(session_factory))) <= {"api_keys",
                                                                      "auth_failures"}
        allowed = {route: await api.request(method, path, headers=bearer(org.admin))
                   for route, (method, path) in routes.items()}
        late_quota = await api.put(  # the member is being removed: no new quota
            f"/orgs/{org_id}/members/{org.member_id}/quotas/container_compute",
            headers=bearer(org.admin), json={"limit": 3})
        sign_up = {who: await api.post("/orgs", json={**NEW_ORG, "name": f"by-{who}"},
                                       headers=bearer(key)) for who, key in
                   {"admin": org.admin, **keys}.items()}
        directory = {who: await api.get("/ops/orgs", headers=bearer(key)) for who, key in
                     {"admin": org.admin, **keys}.items()}
    for (_route, who), response in refused.items():
        problem(response, 401 if who == "operator" else 403)
    for response in frozen_calls:
        problem(response, 403, "org-frozen")
    assert {r: a.status_code for r, a in allowed.items()} == {
        "resend": 200, "revoke": 200, "remove": 202}
    problem(late_quota, 404)
    assert {w: r.status_code for w, r in sign_up.items()} == {
        "admin": 401, "member": 401, "project": 401, "operator": 201, "other_org": 401}
    assert {w: r.status_code for w, r in directory.items()} == {
        "admin": 401, "member": 401, "project": 401, "operator": 200, "other_org": 401}
