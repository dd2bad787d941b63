"""SIGKILL the worker while member offboardings run; a new worker finishes every one of them
with exact counts: each key revoked, each quota released, each notice queued, each member row
deleted and each step audited exactly once.

Real parts only: the Temporal dev server binary, PostgreSQL, and `lifecycle worker` as a child
process killed without warning. The kill strikes once some offboardings are done and others
are not, found by polling the request rows (never a sleep).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.member_offboarding import notice_keys
from clients.member_offboarding import start_offboarding
from contracts.member_offboarding import COMPLETED
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.member_models import REMOVAL_COMPLETED, MemberRemovalRequest
from store.models import AuditEvent, Member, OutboxMessage
from tests.chaos.support import SCALE, WorkerProcess
from tests.support.api_support import mint
from tests.support.member_support import member_rows, remove
from tests.support.teardown_support import eventually

LEAVING = 30 * SCALE
KEYS_EACH = 2
EXPECTED = {"revoke_keys": KEYS_EACH, "release_quotas": 2, "end_sessions": 0, "notify": 2,
            "remove_member": 1}


async def test_worker_sigkilled_mid_offboardings_then_replaced(
        local_temporal: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    with pg_sessions.begin() as session:
        org = seed_org(session, OrgShape(members=LEAVING + 2, projects=1,
                                         records_per_dataset=1), settings.pepper_bytes)
        everyone = list(session.scalars(select(Member.id).where(
            Member.org_id == org.org_id, Member.id != org.admin_member_id).order_by(Member.id)))
    leaving, staying = everyone[:LEAVING], everyone[LEAVING:]
    for member_id in leaving:
        for _ in range(KEYS_EACH):
            mint(pg_sessions, settings, org.org_id, member_id)
    requests = {member_id: remove(pg_sessions, org.org_id, member_id) for member_id in leaving}
    queue = f"offboarding-kill-{uuid.uuid4().hex[:8]}"
    client = local_temporal.client
    handles = [await start_offboarding(client, queue, org.org_id, member_id, request_id,
                                       step_timeout_seconds=5)
               for member_id, request_id in requests.items()]

    async def completed() -> int:
        with pg_sessions() as session:
            return int(session.scalar(select(func.count()).select_from(MemberRemovalRequest)
                                      .where(MemberRemovalRequest.org_id == org.org_id,
                                             MemberRemovalRequest.status == REMOVAL_COMPLETED))
                       or 0)

    worker = WorkerProcess(postgres_url, client.service_client.config.target_host, queue,
                           tmp_path)
    worker.start()
    try:
        done_at_kill = await eventually(completed, lambda n: n >= 1, timeout=90)
        worker.kill()
        done_at_kill = await completed()
        assert done_at_kill < LEAVING, "every offboarding ended before the kill"
        worker.start()
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)),
                                         timeout=180)
    finally:
        worker.stop()
    assert [r.status for r in results] == [COMPLETED] * LEAVING
    assert all(r.counts == EXPECTED for r in results), [r.counts for r in results]
    with pg_sessions() as session:
        for member_id, request_id in requests.items():
            assert member_rows(pg_sessions, member_id) == {
                "members": 0, "live_team_keys": 0, "quotas": 0, "console_sessions": 0,
        "service_permissions": 0}
            steps = list(session.scalars(select(AuditEvent.action).where(
                AuditEvent.target == f"member:{member_id}",
                AuditEvent.action.like("member.offboarding.%"))))
            assert sorted(steps) == sorted(f"member.offboarding.{s}" for s in EXPECTED)
            assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.idempotency_key.in_(notice_keys(request_id)))) == 2
    for member_id in staying:
        assert member_rows(pg_sessions, member_id)["members"] == 1
    print(f"killed with {done_at_kill} of {LEAVING} offboardings done; every count exact")
