"""Usage and billing over HTTP on both databases, and what still owed blocks a teardown: every
blocker at once, with its code."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape
from store import billing
from store.models import Service
from tests.support.api_support import api_client, api_settings, bearer, problem, seed_with_keys
from tests.support.deletion_support import request

SHAPE = OrgShape(projects=2, usage_records=4, outstanding_usage=3, invoices=3,
                 unpaid_invoices=1, job_plans=2)


def _usage(sessions: sessionmaker[Session], org_id: str) -> None:
    """Six billed usage records over two months and both services."""
    rows = [billing.NewUsage(service=service, quantity=quantity, recorded_at=at)
            for at in (datetime(2026, 3, 31, 23, 59, tzinfo=UTC),
                       datetime(2026, 4, 1, 0, 0, tzinfo=UTC),
                       datetime(2026, 4, 30, 12, 0, tzinfo=UTC))
            for service, quantity in ((Service.CONTAINER_COMPUTE, 10),
                                      (Service.VIRTUAL_COMPUTE, 7))]
    with sessions.begin() as session:
        billing.add_usage(session, org_id, rows)


async def test_usage_by_period_and_service_with_totals(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    _usage(session_factory, org.org.org_id)
    path, admin = f"/orgs/{org.org.org_id}/usage", bearer(org.admin)
    async with api_client(api_settings(settings)) as client:
        april = await client.get(path, headers=admin, params={"period": "2026-04"})
        april_vc = await client.get(path, headers=admin, params={
            "period": "2026-04", "service": "virtual_compute", "limit": 1})
        rest = await client.get(path, headers=admin, params={
            "period": "2026-04", "service": "virtual_compute", "limit": 1,
            "cursor": april_vc.json()["next_cursor"]})
        everything = await client.get(path, headers=admin, params={"limit": 200})
        bad_period = await client.get(path, headers=admin, params={"period": "2026-13"})
        member = await client.get(path, headers=bearer(org.member))
    assert april.status_code == 200, april.text
    assert len(april.json()["items"]) == 4
    assert april.json()["totals"] == {"container_compute": 20, "virtual_compute": 14}
    assert april_vc.json()["totals"] == {"virtual_compute": 14}  # the filter, not the page
    assert [len(april_vc.json()["items"]), len(rest.json()["items"])] == [1, 1]
    assert rest.json()["next_cursor"] is None
    assert len(everything.json()["items"]) == SHAPE.usage_records + SHAPE.outstanding_usage + 6
    outstanding = [u for u in everything.json()["items"] if u["invoice_id"] is None]
    assert len(outstanding) == SHAPE.outstanding_usage + 6
    problem(bad_period, 422)
    problem(member, 403, "not-permitted")


async def test_invoices_by_status_and_period(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    path, admin = f"/orgs/{org.org.org_id}/invoices", bearer(org.admin)
    async with api_client(api_settings(settings)) as client:
        every = await client.get(path, headers=admin)
        unpaid = await client.get(path, headers=admin, params={"status": "unpaid"})
        period = every.json()["items"][0]["period"]
        of_period = await client.get(path, headers=admin, params={"period": period})
        bad = await client.get(path, headers=admin, params={"status": "lost"})
    assert every.status_code == 200 and len(every.json()["items"]) == 3
    assert [i["status"] for i in unpaid.json()["items"]] == ["unpaid"]
    assert all(i["amount_cents"] > 0 and i["currency"] == "USD" for i in every.json()["items"])
    assert {i["period"] for i in of_period.json()["items"]} == {period}
    problem(bad, 422)


async def test_every_teardown_blocker_is_listed_at_once(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    request(session_factory, org.org, org.org.project_ids[0], grace=3600)
    org_id, admin = org.org.org_id, bearer(org.admin)
    async with api_client(api_settings(settings), time_skipping_env.client) as client:
        plan = await client.get(f"/orgs/{org_id}/teardown/plan", headers=admin)
        start = await client.post(f"/orgs/{org_id}/teardown", headers=admin,
                                  json={"confirm_name": org.org.name, "grace_seconds": 0})
    assert plan.status_code == 200 and plan.json()["blocked"] is True
    blockers = {b["code"]: b for b in plan.json()["blockers"]}
    assert {c for c, b in blockers.items() if b["blocking"]} == {
        "unpaid_invoices", "outstanding_usage", "project_deletions_running"}
    assert blockers["unpaid_invoices"]["detail"]["count"] == 1
    assert blockers["outstanding_usage"]["detail"]["count"] == SHAPE.outstanding_usage
    assert blockers["project_deletions_running"]["detail"] == {"count": 1}
    assert not blockers["active_job_plans"]["blocking"]
    body = problem(start, 409, "teardown-blocked")
    assert {b["code"] for b in body["blockers"]} == {
        "unpaid_invoices", "outstanding_usage", "project_deletions_running"}
