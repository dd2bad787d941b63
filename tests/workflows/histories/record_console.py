"""Record the replay fixtures of the console's workflows:
`python -m tests.workflows.histories.record_console`.

Three histories: a project deletion that ran to its certificate, one cancelled in its grace
window, and a subscribe through the billing gateway. Re-record when one of these workflows
changes (nothing is released, so a change may break old histories on purpose).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from clients.subscriptions import start_subscribe
from contracts.project_deletion import IN_GRACE, DeletionCancel
from contracts.subscriptions import SubscribeInput
from core.binaries import temporal_test_server
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from tests.support.deletion_support import request, start
from tests.support.teardown_support import eventually, teardown_worker
from workflows.project_deletion import ProjectDeletionWorkflow

HERE = Path(__file__).parent


async def record() -> None:
    def save(name: str, history: WorkflowHistory) -> None:
        (HERE / f"{name}.json").write_text(history.to_json())

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/record.db"
        upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp))
        sessions = make_session_factory(make_engine(url))
        with sessions.begin() as session:
            org = seed_org(session, OrgShape(projects=2, records_per_dataset=5,
                                             workspace_capacity=False), settings.pepper_bytes)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_test_server())
        async with env, teardown_worker(env.client, settings, sessions) as queue:
            done = org.project_ids[0]
            handle = await start(env.client, settings, queue, org.org_id, done,
                                 request(sessions, org, done, grace=60), batch_size=3)
            await handle.result()
            save("project_deletion_completed", await handle.fetch_history())

            kept = org.project_ids[1]
            cancel = await start(env.client, settings, queue, org.org_id, kept,
                                 request(sessions, org, kept, grace=3600))
            await eventually(lambda: cancel.query(ProjectDeletionWorkflow.progress),
                             lambda p: p.status == IN_GRACE)
            await cancel.execute_update(ProjectDeletionWorkflow.cancel,
                                        DeletionCancel("key:recorder"))
            await cancel.result()
            save("project_deletion_cancelled", await cancel.fetch_history())

            subscribe = await start_subscribe(env.client, queue, SubscribeInput(
                org.org_id, "workspace_capacity", "workspace-capacity-standard",
                "record-capacity-1", "key:recorder"))
            await subscribe.result()
            save("subscription_create", await subscribe.fetch_history())


if __name__ == "__main__":
    asyncio.run(record())
