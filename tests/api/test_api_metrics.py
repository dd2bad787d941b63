"""`GET /metrics` on the real app and database (both kinds): business counters counted from
durable records move after real teardowns and a real sweep (time-skipping Temporal server,
real worker, real SMTP), request metrics carry route templates, never ids or secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape
from tests.support.api_support import (
    OPERATOR_TOKEN,
    api_client,
    api_settings,
    bearer,
    seed_with_keys,
)
from tests.support.sweep_support import add_key, make_org, run_sweep, smtp_server, sweep_worker
from tests.support.teardown_support import eventually, teardown_worker

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=7, members=2,
                 team_keys=1, project_keys_per_project=1, job_plans=1, usage_records=1,
                 invoices=1)
OPERATOR = bearer(OPERATOR_TOKEN)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in after, f"{key} not exposed"
    return after[key] - before.get(key, 0.0)


async def _status(client: httpx.AsyncClient, org_id: str) -> str:
    body = (await client.get(f"/orgs/{org_id}/teardown", headers=OPERATOR)).json()
    return str(body.get("status"))


async def test_business_counters_move_after_a_teardown(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    done, kept = (seed_with_keys(session_factory, settings, SHAPE) for _ in range(2))
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue), temporal) as client:
        before = await scrape(client)
        for org in (done, kept):
            started = await client.post(
                f"/orgs/{org.org.org_id}/teardown", headers=bearer(org.admin),
                json={"confirm_name": org.org.name, "grace_seconds": 3600})
            assert started.status_code == 202, started.text
            await eventually(partial(_status, client, org.org.org_id), lambda s: s == "grace")
        mid = await scrape(client)
        cancel = await client.post(f"/orgs/{kept.org.org_id}/teardown/cancel",
                                   headers=bearer(kept.admin), json={"reason": "kept"})
        assert cancel.status_code == 200, cancel.text
        expedite = await client.post(f"/orgs/{done.org.org_id}/teardown/expedite",
                                     headers=bearer(done.admin))
        assert expedite.status_code == 200, expedite.text
        await eventually(lambda: _status(client, done.org.org_id), lambda s: s == "completed")
        after = await scrape(client)

    assert moved(before, mid, "lifecycle_teardowns_started_total") == 2
    assert moved(before, mid, "lifecycle_teardowns_completed_total") == 0
    assert moved(before, after, "lifecycle_teardowns_started_total") == 2
    assert moved(before, after, "lifecycle_teardowns_cancelled_total") == 1
    assert moved(before, after, "lifecycle_teardowns_completed_total") == 1
    assert moved(before, after, "lifecycle_teardowns_failed_total") == 0
    assert moved(before, after, "lifecycle_records_purged_total") == 2 * 2 * 7
    assert after[("lifecycle_business_metrics_up", ())] == 1


async def test_keys_expired_and_reminders_sent_move_after_a_sweep(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    org = make_org(session_factory, settings)
    add_key(session_factory, org, now - timedelta(hours=1), creator=org.others[0])
    add_key(session_factory, org, now + timedelta(days=3), creator=org.others[0])
    temporal = time_skipping_env.client
    with smtp_server() as (inbox, port):
        mail = settings.model_copy(update={"smtp_port": port})
        async with sweep_worker(temporal, mail, session_factory) as queue, \
                api_client(api_settings(settings)) as client:
            before = await scrape(client)
            await run_sweep(temporal, queue, now)
            after = await scrape(client)
            await run_sweep(temporal, queue, now + timedelta(minutes=5))  # nothing new
            again = await scrape(client)
    # one digest to the creator and one to the admin, each listing both keys
    assert len(inbox.all()) == 2
    assert moved(before, after, "lifecycle_reminders_sent_total", channel="email") == 2
    assert moved(before, after, "lifecycle_reminders_sent_total", channel="webhook") == 0
    assert moved(before, after, "lifecycle_keys_expired_total") == 1
    assert moved(after, again, "lifecycle_keys_expired_total") == 0
    assert moved(after, again, "lifecycle_reminders_sent_total", channel="email") == 0


async def test_request_metrics_use_route_templates_never_ids_or_keys(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id = org.org.org_id
    async with api_client(api_settings(settings)) as client:
        for _ in range(3):
            assert (await client.get(f"/orgs/{org_id}", headers=bearer(org.admin))
                    ).status_code == 200
        assert (await client.get(f"/orgs/{org_id}")).status_code == 401
        assert (await client.get(f"/no/such/{org_id}")).status_code == 404
        text = (await client.get("/metrics")).text
        samples = await scrape(client)
    route = (("method", "GET"), ("route", "/orgs/{org_id}"))
    assert samples[("lifecycle_http_requests_total", (*route, ("status", "200")))] == 3
    assert samples[("lifecycle_http_requests_total", (*route, ("status", "401")))] == 1
    assert samples[("lifecycle_http_request_duration_seconds_count",
                    (*route, ("status", "200")))] == 3
    assert samples[("lifecycle_http_requests_total",
                    (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert org_id not in text and org.admin not in text and org.admin[:12] not in text


async def test_metrics_answer_without_the_business_counters_when_the_database_is_down(
        settings: Settings) -> None:
    down = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
    async with api_client(down) as client:
        await client.get("/healthz")
        samples = await scrape(client)
    assert samples[("lifecycle_business_metrics_up", ())] == 0
    assert not any(name.startswith("lifecycle_teardowns") for name, _ in samples)
    assert samples[("lifecycle_http_requests_total", (("method", "GET"), ("route", "/healthz"),
                                                     ("status", "200")))] == 1
