"""Secrets never at rest: after a full journey, no API key secret and no card number is anywhere.

The journey runs on real parts: uvicorn with the app, PostgreSQL, the Temporal dev server, an
SMTP server, and `lifecycle worker` in a child process whose output is kept. Keys are issued
through the API and used; card numbers are sent where a card token belongs; every key kind
tries other orgs and other projects; a key-expiry sweep mails a reminder; one org is torn down.
Then `pg_dump` of the database, the API's and the worker's logs, the mail and the Temporal
histories are searched for every secret and every card number.

`tests/test_api_auth.py` already runs the auth matrix with an admin key of another org and a
project key on a sibling project; this adds member and project keys of another org, keys made
through the API, and another org's project reached through one's own org.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts.teardown import COMPLETED, teardown_workflow_id
from core.settings import Settings
from store.base import utcnow
from store.models import AuditEvent, Organization
from store.plan import owned_counts
from store.reminders import KEY_EXPIRED
from tests.chaos.leak_scan import (
    assert_finds,
    captured_logs,
    card_needles,
    key_needles,
    leaks,
    pg_dump,
)
from tests.chaos.support import SCALE, WorkerProcess
from tests.support.api_support import (
    OrgKeys,
    api_settings,
    bearer,
    problem,
    running_api,
    seed_with_keys,
)
from tests.support.sweep_support import run_sweep, smtp_server
from tests.support.teardown_support import eventually
from workflows.teardown import OrgTeardownWorkflow

CARD_NUMBERS = ("4111111111111111", "5500 0000 0000 0004", "4242-4242-4242-4242")
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2099}


async def _issue(client: httpx.AsyncClient, admin: str, path: str, days: int) -> str:
    response = await client.post(path, headers=bearer(admin),
                                 json={"name": "journey", "expires_in_days": days})
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


async def _try_card_numbers(client: httpx.AsyncClient, org: OrgKeys) -> int:
    path = f"/orgs/{org.org.org_id}/payment-method"
    admin = bearer(org.admin)
    assert (await client.put(path, headers=admin,
                             json={"token": "tok_journey", **CARD})).status_code == 200
    tries = 0
    for number in CARD_NUMBERS:
        for body in ({"token": number, **CARD}, {"token": "tok_x", "number": number, **CARD}):
            problem(await client.put(path, headers=admin, json=body), 422,
                    "card-number-refused")
            tries += 1
        raw = f'{{"token": "tok_x", "card": "{number}"'  # malformed JSON carrying a number
        response = await client.put(path, headers={**admin, "Content-Type": "application/json"},
                                    content=raw)
        problem(response, 422)
        tries += 1
    return tries


def _cross_attempts(mine: OrgKeys, other: OrgKeys, keys: dict[str, str]
                    ) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(key name, method, path, body): each must be refused for the key named."""
    a, b = mine.org, other.org
    elsewhere = [
        ("GET", f"/orgs/{b.org_id}", None),
        ("POST", f"/orgs/{b.org_id}/keys", {"name": "x"}),
        ("GET", f"/orgs/{b.org_id}/keys", None),
        ("GET", f"/orgs/{b.org_id}/projects/{b.project_ids[0]}/keys", None),
        ("POST", f"/orgs/{b.org_id}/projects/{b.project_ids[0]}/keys", {"name": "x"}),
        ("PUT", f"/orgs/{b.org_id}/payment-method", {"token": "tok_y", **CARD}),
        ("GET", f"/orgs/{b.org_id}/teardown/plan", None),
        ("GET", f"/orgs/{a.org_id}/projects/{b.project_ids[0]}/keys", None),
        ("POST", f"/orgs/{a.org_id}/projects/{b.project_ids[0]}/keys", {"name": "x"}),
    ]
    sibling = [("GET", f"/orgs/{a.org_id}/projects/{a.project_ids[1]}/keys", None),
               ("POST", f"/orgs/{a.org_id}/projects/{a.project_ids[1]}/keys", {"name": "x"})]
    attempts = [(name, *call) for name in keys for call in elsewhere]
    return attempts + [(name, *call) for name in keys if "project" in name for call in sibling]


def _audit_count(sessions: sessionmaker[Session], org_id: str) -> int:
    """Audit events of `org_id` other than the sweep's own `api_key.expired` markers.

    The sweep covers every org, so it rightly marks the neighbour's expired key; what must
    not appear is an event caused by another org's credentials (a write that got through).
    """
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.org_id == org_id,
                                         AuditEvent.action != KEY_EXPIRED)) or 0)


async def _histories(client: Client, workflow_ids: list[str]) -> str:
    """Each workflow's latest run (a sweep id is `<workflow id>/<first run id>`)."""
    texts = [(await client.get_workflow_handle(wid).fetch_history()).to_json()
             for wid in workflow_ids]
    return "\n".join(texts)


async def test_no_secret_or_card_number_at_rest_after_a_full_journey(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    client = local_temporal.client
    queue = f"secrets-{uuid.uuid4().hex[:8]}"
    settings = api_settings(Settings(database_url=postgres_url, data_dir=tmp_path,
                                     task_queue=queue))
    mine, other = seed_with_keys(pg_sessions, settings), seed_with_keys(pg_sessions, settings)
    a = mine.org
    other_audit = _audit_count(pg_sessions, other.org.org_id)
    refusals: Counter[int] = Counter()
    with smtp_server() as (inbox, smtp_port), \
            captured_logs(tmp_path / "api.log") as api_log:
        worker = WorkerProcess(postgres_url, client.service_client.config.target_host, queue,
                               tmp_path, log_path=tmp_path / "worker.log",
                               env={"LIFECYCLE_SMTP_HOST": "127.0.0.1",
                                    "LIFECYCLE_SMTP_PORT": str(smtp_port),
                                    "LIFECYCLE_SWEEP_SCHEDULE_ENABLED": "false"})
        worker.start()
        try:
            async with running_api(settings, client, log_level="debug") as base, \
                    httpx.AsyncClient(base_url=base, timeout=60) as http:
                keys = {"seeded admin": mine.admin, "seeded member": mine.member,
                        "seeded project": mine.project}
                for i in range(SCALE):  # team keys due for a reminder within 7 days
                    keys[f"team {i}"] = await _issue(http, mine.admin,
                                                     f"/orgs/{a.org_id}/keys", 5)
                    keys[f"project {i}"] = await _issue(
                        http, mine.admin, f"/orgs/{a.org_id}/projects/{a.project_ids[0]}/keys",
                        90)
                for name, key in keys.items():  # each key works where it belongs
                    path = (f"/orgs/{a.org_id}/projects/{a.project_ids[0]}/keys"
                            if "project" in name else f"/orgs/{a.org_id}")
                    assert (await http.get(path, headers=bearer(key))).status_code == 200
                cards_tried = await _try_card_numbers(http, mine)
                attempts = _cross_attempts(mine, other, keys)
                for name, method, path, body in attempts:
                    response = await http.request(method, path, json=body,
                                                  headers=bearer(keys[name]))
                    assert response.status_code in (403, 404), (name, method, path)
                    problem(response, response.status_code)
                    refusals[response.status_code] += 1

                sweep = await run_sweep(client, queue, utcnow())
                await eventually(lambda: asyncio.to_thread(inbox.all), lambda got: any(
                    keys["team 0"][:12] in m.body for m in got))  # the reminder was delivered
                with pg_sessions() as session:  # the sweep added reminders; nothing else may
                    other_before = owned_counts(session, other.org.org_id)
                started = await http.post(f"/orgs/{a.org_id}/teardown",
                                          headers=bearer(mine.admin),
                                          json={"confirm_name": a.name, "grace_seconds": 0})
                assert started.status_code == 202, started.text
                result = await asyncio.wait_for(client.get_workflow_handle_for(
                    OrgTeardownWorkflow.run, teardown_workflow_id(a.org_id)).result(), 120)
                logging.getLogger("lifecycle.api").info("planted %s", "PLANTED-IN-API-LOG")
        finally:
            worker.stop()
        mails = "\n".join(f"{m.subject}\n{m.body}" for m in inbox.all())
    assert result.status == COMPLETED
    with pg_sessions.begin() as session:  # a value the dump scan must find
        session.execute(update(Organization).where(Organization.id == other.org.org_id)
                        .values(description="PLANTED-IN-DATABASE"))
        assert set(owned_counts(session, a.org_id).values()) == {0}
        assert owned_counts(session, other.org.org_id) == other_before
    assert _audit_count(pg_sessions, other.org.org_id) == other_audit

    sources = {
        "pg_dump": await asyncio.to_thread(pg_dump, postgres_url),
        "api log": api_log.read_text(encoding="utf-8"),
        "worker log": (tmp_path / "worker.log").read_text(encoding="utf-8"),
        "mail": mails,
        "histories": await _histories(client, [teardown_workflow_id(a.org_id),
                                               sweep.sweep_id.split("/")[0]]),
    }
    assert_finds(sources["pg_dump"], "PLANTED-IN-DATABASE", "the dump")
    assert_finds(sources["api log"], "PLANTED-IN-API-LOG", "the API log")
    assert_finds(sources["worker log"], teardown_workflow_id(a.org_id), "the worker log")
    assert_finds(sources["mail"], keys["team 0"][:12], "the mail")  # the reminder names the key
    assert_finds(sources["histories"], a.org_id, "the histories")
    secrets = [*keys.values(), mine.expired, mine.revoked, other.admin, other.member,
               other.project]
    needles = key_needles(secrets) | card_needles(CARD_NUMBERS)
    found = {name: leaks(text, needles) for name, text in sources.items()}
    assert found == {name: [] for name in sources}, found
    print(f"secrets scan: {len(secrets)} keys, {len(CARD_NUMBERS)} card numbers "
          f"({cards_tried} refused sends), {len(attempts)} cross-org/project attempts refused "
          f"{dict(refusals)}; scanned " + ", ".join(
              f"{name} {len(text) // 1024} KiB" for name, text in sources.items()))

