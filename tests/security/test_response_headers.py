"""Every response carries the security headers; bulk bodies are capped; HSTS only over HTTPS.

API answers once went out without `Cache-Control: no-store` (an org's settings or key list
could sit in a proxy's or browser's cache) and without `nosniff` or a referrer policy, which
only the console set; a bulk delete took ids of any length.
"""

from __future__ import annotations

import httpx
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.security_headers import HSTS
from core.settings import Settings
from tests.support.api_support import (
    api_settings,
    bearer,
    problem,
    running_api,
    seed_with_keys,
)
from tests.support.db_snapshot import changed, fingerprint

HSTS_NAME = HSTS[0].decode()


def _assert_base(response: httpx.Response) -> None:
    headers = response.headers
    assert headers.get_list("x-content-type-options") == ["nosniff"], response.url
    assert headers.get_list("referrer-policy") == ["no-referrer"], response.url
    assert headers.get_list("cache-control") == ["no-store"], response.url


async def test_every_response_has_the_security_headers_and_hsts_only_over_https(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    app = create_app(api_settings(settings))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        for base, https in (("http://api.test", False), ("https://api.test", True)):
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:
                answers = [await client.get(f"/orgs/{org_id}", headers=admin),
                           await client.get(f"/orgs/{org_id}/keys", headers=admin),
                           await client.get(f"/orgs/{org_id}", headers=bearer("olt_forged")),
                           await client.get("/healthz"),
                           await client.post(f"/orgs/{org_id}/keys", headers=admin,
                                             json={"name": "k", "expires_in_days": 1}),
                           await client.get("/console/signin")]
                for answer in answers:
                    _assert_base(answer)
                    assert (HSTS_NAME in answer.headers) is https, (base, answer.url)
                console = answers[-1].headers
                assert "default-src 'none'" in console["content-security-policy"]
                assert console["x-frame-options"] == "DENY"
    finally:
        app.state.engine.dispose()


async def test_a_forwarded_https_from_a_trusted_proxy_turns_hsts_on(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1 only by default (--forwarded-allow-ips)
    async with running_api(api_settings(settings)) as url, httpx.AsyncClient() as client:
        proxied = await client.get(f"{url}/healthz", headers={"X-Forwarded-Proto": "https"})
        direct = await client.get(f"{url}/healthz")
    assert HSTS_NAME in proxied.headers and HSTS_NAME not in direct.headers
    _assert_base(direct)


async def test_bulk_delete_ids_are_capped_in_length_and_count(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    path = f"/orgs/{org.org.org_id}/keys/bulk-delete"
    app = create_app(api_settings(settings))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    before = fingerprint(session_factory)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as api:
            long_id = await api.post(path, headers=bearer(org.admin),
                                     json={"ids": ["a" * 10_000], "confirm": "DELETE 1 KEYS"})
            too_many = await api.post(path, headers=bearer(org.admin), json={
                "ids": [f"{i:032x}" for i in range(101)], "confirm": "DELETE 101 KEYS"})
            line_break = await api.post(path, headers=bearer(org.admin),
                                        json={"ids": ["ab\r\ncd"], "confirm": "DELETE 1 KEYS"})
    finally:
        app.state.engine.dispose()
    for answer in (long_id, too_many, line_break):
        problem(answer, 422, "invalid-input")
    assert set(changed(before, fingerprint(session_factory))) <= {"api_keys"}
