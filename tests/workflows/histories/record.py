"""Record the teardown and subscription-cancel replay fixtures from real runs:
`python -m tests.workflows.histories.record`.

Four histories: a completed teardown's first and last run (it continues as new; its org has
dataset files in a real SeaweedFS object store, so each project's purge includes
`purge_target`), a teardown cancelled in its grace window, and a subscription cancel.
Nothing is released yet, so a workflow change re-records them in place; the replay test
(tests/workflows/test_replay.py) checks every JSON file here against the current workflow code.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from clients.teardown import start_teardown
from contracts.subscriptions import SubscriptionCancelInput, subscription_cancel_workflow_id
from contracts.teardown import IN_GRACE, CancelRequest
from core import seaweed
from core.binaries import temporal_test_server
from core.histories import run_histories
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from services.teardown import recorded_input
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.models import Subscription, SubscriptionKind
from store.objects import configured_store
from tests.support.files_support import put_files
from tests.support.teardown_support import eventually, teardown_worker
from workflows.subscriptions import SubscriptionCancelWorkflow
from workflows.teardown import OrgTeardownWorkflow

HERE = Path(__file__).parent


async def record() -> None:
    def save(name: str, history: WorkflowHistory) -> None:
        (HERE / f"{name}.json").write_text(history.to_json())

    with tempfile.TemporaryDirectory() as tmp, \
            seaweed.running(plan := seaweed.WeedPlan.fresh(Path(tmp) / "objects")):
        url = f"sqlite:///{tmp}/record.db"
        upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp),
                            object_store_endpoint=plan.endpoint)
        sessions = make_session_factory(make_engine(url))
        with sessions.begin() as session:
            done = seed_org(session, OrgShape(projects=2, records_per_dataset=5),
                            settings.pepper_bytes)
            kept = seed_org(session, OrgShape(projects=1), settings.pepper_bytes)
        store = configured_store(settings)
        assert store is not None
        put_files(store, sessions, done.org_id, 3)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_test_server())
        async with env, teardown_worker(env.client, settings, sessions) as queue:
            inp = replace(recorded_input(settings, done.org_id, "member:recorder", 3600),
                          batch_size=2, project_page_size=1, pages_per_run=1)
            handle = await start_teardown(env.client, settings, inp, queue)
            await handle.result()
            runs = await run_histories(env.client, handle.id, handle.result_run_id or "")
            save("teardown_completed", runs[0])
            save("teardown_completed_last_run", runs[-1])

            cancel = await start_teardown(
                env.client, settings, recorded_input(settings, kept.org_id, "member:r", 3600),
                queue)
            await eventually(lambda: cancel.query(OrgTeardownWorkflow.progress),
                             lambda p: p.status == IN_GRACE)
            await cancel.execute_update(OrgTeardownWorkflow.cancel, CancelRequest("member:r"))
            await cancel.result()
            save("teardown_cancelled", await cancel.fetch_history())

            # the org is active again after the cancelled teardown: unsubscribe a job plan
            with sessions() as session:
                plan_id = session.execute(select(Subscription.id).where(
                    Subscription.org_id == kept.org_id,
                    Subscription.kind == SubscriptionKind.JOB_PLAN).limit(1)).scalar_one()
            unsubscribe = await env.client.start_workflow(
                SubscriptionCancelWorkflow.run,
                SubscriptionCancelInput(kept.org_id, plan_id, "job_plan", "key:recorder"),
                id=subscription_cancel_workflow_id(plan_id), task_queue=queue)
            await unsubscribe.result()
            save("subscription_cancel", await unsubscribe.fetch_history())


if __name__ == "__main__":
    asyncio.run(record())
