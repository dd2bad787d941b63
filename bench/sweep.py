"""Wall time of one key-expiry sweep over N keys on PostgreSQL and a real Temporal dev server.

Run by hand (not a test): `PYTHONPATH=. .venv/bin/python bench/sweep.py --keys 1000000`.
It creates a private database, loads the keys with COPY (as the 100k test does), runs one
sweep and a repeat at the same instant, checks the reminder count against an independent SQL
count, prints the times and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from lifecycle.binaries import temporal_cli
from lifecycle.settings import Settings
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from tests.conftest import PG_ADMIN_URL, _admin_execute
from tests.sweep_support import make_org, run_sweep, smtp_server, sweep_worker
from tests.test_sweep_scale import ANNOUNCED_SQL, DUE_SQL, NOW, copy_keys


async def main(keys: int, orgs: int, page_size: int) -> None:
    name = f"lifecycle_bench_{uuid.uuid4().hex[:6]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli(),
                                                ui=False)
    try:
        upgrade(url)
        sessions = make_session_factory(make_engine(url))
        with smtp_server() as (inbox, port):
            settings = Settings(database_url=url, data_dir=Path("/tmp"), smtp_port=port)
            started = time.perf_counter()
            made = [make_org(sessions, settings) for _ in range(orgs)]
            copy_keys(sessions, [(o.id, o.member_ids[o.admin]) for o in made], keys,
                      random.Random(5))
            with sessions.begin() as session:
                session.execute(text("ANALYZE"))
                due = session.execute(text(DUE_SQL),
                                      {"horizon": NOW + timedelta(days=30)}).scalar()
            print(f"loaded {keys:,} keys in {orgs} orgs: {time.perf_counter() - started:.1f}s")
            async with sweep_worker(env.client, settings, sessions) as queue:
                started = time.perf_counter()
                result = await run_sweep(env.client, queue, NOW, page_size=page_size)
                first = time.perf_counter() - started
                started = time.perf_counter()
                await run_sweep(env.client, queue, NOW, page_size=page_size)
                repeat = time.perf_counter() - started
            with sessions() as session:
                announced = session.execute(text(ANNOUNCED_SQL)).scalar()
        print(f"sweep: {first:.1f}s ({due:,} due keys, {result.runs} runs, "
              f"{len(inbox.unique())} digests); repeat at the same instant: {repeat:.1f}s")
        print(f"announced {announced:,} == due {due:,}: {announced == due}")
    finally:
        await env.shutdown()
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.keys, args.orgs, args.page_size))
