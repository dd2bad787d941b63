"""Record the member offboarding's replay fixture:
`python -m tests.workflows.histories.record_offboarding`.

One history: a seeded member removed through the service the API calls, offboarded to the end
by the real activities. Re-record it in place when the workflow changes (nothing is released).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from clients.member_offboarding import start_offboarding
from contracts.member_offboarding import COMPLETED
from core.binaries import temporal_test_server
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Member
from tests.support.member_support import remove
from tests.support.teardown_support import teardown_worker

HERE = Path(__file__).parent


async def record() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/record.db"
        upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp))
        sessions = make_session_factory(make_engine(url))
        with sessions.begin() as session:
            org = seed_org(session, OrgShape(members=2), settings.pepper_bytes)
            member_id = session.scalars(select(Member.id).where(
                Member.org_id == org.org_id, Member.id != org.admin_member_id)).one()
        request_id = remove(sessions, org.org_id, member_id)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_test_server())
        async with env, teardown_worker(env.client, settings, sessions) as queue:
            handle = await start_offboarding(env.client, queue, org.org_id, member_id,
                                             request_id)
            result = await handle.result()
            assert result.status == COMPLETED, result
            (HERE / "member_offboarding.json").write_text(
                (await handle.fetch_history()).to_json())


if __name__ == "__main__":
    asyncio.run(record())
