"""Record the key-expiry sweep's replay fixtures:
`python -m tests.workflows.histories.record_sweep`.

Two histories: a whole sweep's first run (claims, compose, delivery to a real SMTP server) and
its last run after continue-as-new, so both the start and the carried-over state replay.
Nothing is released yet, so a change to the sweep workflow re-records them in place.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from contracts.sweep import SweepInput
from core.binaries import temporal_test_server
from core.histories import run_histories
from core.settings import Settings
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from tests.support.sweep_support import add_key, make_org, smtp_server, sweep_worker
from workflows.sweep import KeyExpirySweepWorkflow

HERE = Path(__file__).parent
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


async def record() -> None:
    with tempfile.TemporaryDirectory() as tmp, smtp_server() as (_, port):
        url = f"sqlite:///{tmp}/record.db"
        upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp), smtp_port=port)
        sessions = make_session_factory(make_engine(url))
        for _ in range(2):
            org = make_org(sessions, settings)
            for days in (-1, 0.5, 5, 20, 45):
                add_key(sessions, org, NOW + timedelta(days=days), creator=org.others[0])
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=temporal_test_server())
        async with env, sweep_worker(env.client, settings, sessions) as queue:
            handle = await env.client.start_workflow(
                KeyExpirySweepWorkflow.run,
                SweepInput(now=NOW, page_size=3, pages_per_run=2, compose_page_size=1),
                id=f"sweep-record-{uuid.uuid4().hex[:6]}", task_queue=queue)
            await handle.result()
            runs = await run_histories(env.client, handle.id, handle.first_execution_run_id
                                       or handle.result_run_id or "")
            (HERE / "key_expiry_sweep.json").write_text(runs[0].to_json())
            (HERE / "key_expiry_sweep_last_run.json").write_text(runs[-1].to_json())
            print(f"recorded {len(runs)} runs")


if __name__ == "__main__":
    asyncio.run(record())
