"""The auth matrix: every endpoint family against every kind of bad credential, on both databases.

Keys are real rows made by the repository code; "frozen" is the org status a teardown sets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keyformat
from core.settings import Settings
from services.seeding import SEED_ACTOR
from store.models import ApiKey, AuditEvent, OrgStatus
from tests.support.api_support import (
    OPERATOR_TOKEN,
    OrgKeys,
    api_client,
    api_settings,
    bearer,
    key_row,
    mint,
    problem,
    seed_with_keys,
    set_status,
)


@dataclass(frozen=True)
class Family:
    name: str
    method: str
    path: str  # {org} and {project} / {other_project} are filled in
    body: dict[str, Any] | None
    needs: str  # team | admin | project
    frozen_admin_ok: bool = False


FAMILIES = [
    Family("org read", "GET", "/orgs/{org}", None, "team"),
    Family("org write", "PATCH", "/orgs/{org}", {"description": "changed"}, "admin"),
    Family("payment", "PUT", "/orgs/{org}/payment-method",
           {"token": "tok_abc", "brand": "visa", "last4": "4242", "exp_month": 12,
            "exp_year": 2099}, "admin"),
    Family("keys", "POST", "/orgs/{org}/keys", {"name": "new"}, "admin"),
    Family("project keys", "GET", "/orgs/{org}/projects/{project}/keys", None, "project"),
    Family("quotas", "PUT", "/orgs/{org}/members/{member}/quotas/container_compute",
           {"limit": 7}, "admin"),
    Family("members", "GET", "/orgs/{org}/members", None, "team"),
    Family("member role", "PATCH", "/orgs/{org}/members/{member}", {"role": "admin"}, "admin"),
    Family("removal status", "GET", "/orgs/{org}/members/{member}/removal", None, "admin"),
    Family("invite", "POST", "/orgs/{org}/invitations",
           {"email": "invitee@example.com", "role": "member"}, "admin"),
    Family("invitations", "GET", "/orgs/{org}/invitations", None, "admin"),
    Family("teardown", "GET", "/orgs/{org}/teardown/plan", None, "admin",
           frozen_admin_ok=True),
    Family("audit log", "GET", "/orgs/{org}/audit", None, "admin"),
    Family("audit export", "GET", "/orgs/{org}/audit/export", None, "admin"),
    Family("permissions", "GET", "/orgs/{org}/permissions", None, "team"),
    Family("member permissions", "GET", "/orgs/{org}/members/{member}/permissions", None,
           "team"),
    Family("permission set", "PUT",
           "/orgs/{org}/members/{member}/permissions/virtual_compute", {"enabled": False},
           "admin"),
    Family("member's service quota", "GET", "/orgs/{org}/quotas?service=container_compute",
           None, "team"),
]


def _expected(family: Family, case: str) -> int:
    if case in ("none", "malformed", "wrong", "expired", "revoked", "operator"):
        return 401
    if case == "member":
        return 200 if family.needs == "team" else 403
    if case == "project_own":
        return 200 if family.needs == "project" else 403
    if case == "frozen_admin":
        return 200 if family.frozen_admin_ok else 403
    return 403  # project key on another project, key of another org, frozen member


async def _call(client: httpx.AsyncClient, family: Family, org: OrgKeys, key: str | None,
                project: str | None = None) -> httpx.Response:
    path = family.path.format(org=org.org.org_id, member=org.member_id,
                              project=project or org.org.project_ids[0])
    return await client.request(family.method, path, json=family.body,
                                headers=bearer(key) if key is not None else {})


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
async def test_each_family_refuses_every_bad_credential(
        family: Family, session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    other = seed_with_keys(session_factory, settings)
    frozen = seed_with_keys(session_factory, settings)
    set_status(session_factory, frozen.org.org_id, OrgStatus.FROZEN)
    never_stored = keyformat.generate("team", settings.pepper_bytes).secret
    cases: dict[str, tuple[OrgKeys, str | None, str | None]] = {
        "none": (org, None, None),
        "malformed": (org, "olt_not-a-real-key", None),
        "wrong": (org, never_stored, None),
        "operator": (org, OPERATOR_TOKEN, None),  # the operator credential is not a key
        "expired": (org, org.expired, None),
        "revoked": (org, org.revoked, None),
        "member": (org, org.member, None),
        "project_own": (org, org.project, None),
        "project_other": (org, org.project, org.org.project_ids[1]),
        "other_org": (org, other.admin, None),
        "frozen_member": (frozen, frozen.member, None),
        "frozen_admin": (frozen, frozen.admin, None),
    }
    async with api_client(api_settings(settings)) as client:
        for case, (target, key, project) in cases.items():
            response = await _call(client, family, target, key, project)
            want = _expected(family, case)
            assert response.status_code == want, (case, response.text)
            if want >= 400:
                body = problem(response, want)
                if key is not None:
                    assert key not in response.text
                if want == 401:
                    assert response.headers["www-authenticate"].startswith("Bearer")
        if family.method != "GET":  # the admin's own call succeeds, and only it wrote audit
            response = await _call(client, family, org, org.admin)
            assert response.status_code < 300, response.text
    with session_factory() as session:
        actors = set(session.scalars(select(AuditEvent.actor).where(
            AuditEvent.org_id.in_([org.org.org_id, other.org.org_id, frozen.org.org_id]),
            AuditEvent.actor != SEED_ACTOR)))
    if family.method != "GET":
        assert actors == {f"key:{org.admin[:12]}"}, body
    else:
        assert actors == set()


async def test_expiry_is_checked_at_use_and_near_expiry_is_announced(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    soon = mint(session_factory, settings, org.org.org_id, org.org.admin_member_id,
                expires_in=timedelta(days=3))
    later = mint(session_factory, settings, org.org.org_id, org.org.admin_member_id,
                 expires_in=timedelta(days=30))
    path = f"/orgs/{org.org.org_id}"
    async with api_client(api_settings(settings)) as client:
        warned = await client.get(path, headers=bearer(soon))
        quiet = await client.get(path, headers=bearer(later))
        with session_factory.begin() as session:  # no sweep ran: the expiry alone refuses it
            row = key_row(session, soon)
            assert row is not None
            row.expires_at = row.created_at
        refused = await client.get(path, headers=bearer(soon))
    assert warned.status_code == 200
    assert warned.headers["x-key-expires-at"].endswith("Z")
    assert "API key expires" in warned.headers["warning"]
    assert quiet.status_code == 200 and "x-key-expires-at" not in quiet.headers
    problem(refused, 401, "unauthorized")


async def test_last_used_is_recorded_at_most_every_five_minutes(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    path = f"/orgs/{org.org.org_id}"
    async with api_client(api_settings(settings)) as client:
        assert (await client.get(path, headers=bearer(org.admin))).status_code == 200
        with session_factory() as session:
            first = session.scalars(select(ApiKey.last_used_at).where(
                ApiKey.prefix == org.admin[:12])).one()
        assert first is not None
        assert (await client.get(path, headers=bearer(org.admin))).status_code == 200
        with session_factory() as session:
            assert session.scalars(select(ApiKey.last_used_at).where(
                ApiKey.prefix == org.admin[:12])).one() == first
        with session_factory.begin() as session:
            row = key_row(session, org.admin)
            assert row is not None
            row.last_used_at = first - timedelta(minutes=6)
        assert (await client.get(path, headers=bearer(org.admin))).status_code == 200
        with session_factory() as session:
            later = session.scalars(select(ApiKey.last_used_at).where(
                ApiKey.prefix == org.admin[:12])).one()
    assert later is not None and later >= first


async def test_operator_credential(session_factory: sessionmaker[Session],
                                   settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    async with api_client(api_settings(settings)) as client:
        for headers in ({}, bearer("wrong"), bearer(org.admin), bearer(OPERATOR_TOKEN[:-1])):
            problem(await client.get("/ops/workflows", headers=headers), 401, "unauthorized")
    # with no operator token configured, nothing is an operator, not even an empty bearer
    async with api_client(settings) as client:
        problem(await client.get("/ops/workflows", headers={"Authorization": "Bearer "}), 401)
        problem(await client.get("/ops/workflows", headers=bearer(OPERATOR_TOKEN)), 401)


async def test_keys_are_never_logged(session_factory: sessionmaker[Session], settings: Settings,
                                     caplog: pytest.LogCaptureFixture) -> None:
    org = seed_with_keys(session_factory, settings)
    caplog.set_level(logging.DEBUG)
    async with api_client(api_settings(settings)) as client:
        for key in (org.admin, org.expired, org.revoked, org.member):
            await client.get(f"/orgs/{org.org.org_id}/keys", headers=bearer(key))
    for key in (org.admin, org.expired, org.revoked, org.member):
        assert key not in caplog.text
