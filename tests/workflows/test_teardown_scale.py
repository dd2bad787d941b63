"""Bounded history: the teardown's history per run stays bounded however many projects an org
has."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from clients.teardown import start_teardown
from contracts.teardown import COMPLETED
from core.histories import run_histories
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from services.teardown import recorded_input
from store.plan import owned_counts
from tests.support.teardown_support import teardown_worker

PROJECTS = 300
PAGE = 50
PAGES_PER_RUN = 2
# Per run: PAGE * PAGES_PER_RUN project purges at ~6 events each (three for the activity, three
# for the workflow task that follows), plus a few dozen for the steps.
EVENTS_PER_RUN_BOUND = PAGE * PAGES_PER_RUN * 8 + 200


async def test_hundreds_of_projects_keep_parent_history_bounded(
        time_skipping_env: WorkflowEnvironment, pg_sessions: sessionmaker[Session],
        postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    with pg_sessions.begin() as session:
        org = seed_org(session, OrgShape(projects=PROJECTS, datasets_per_project=1,
                                         records_per_dataset=2, project_keys_per_project=0),
                       settings.pepper_bytes)
    inp = replace(recorded_input(settings, org.org_id, "member:admin", 0),
                  project_page_size=PAGE, pages_per_run=PAGES_PER_RUN, purge_concurrency=16)
    client = time_skipping_env.client
    async with teardown_worker(client, settings, pg_sessions) as queue:
        handle = await start_teardown(client, settings, inp, queue)
        result = await handle.result()
    assert result.status == COMPLETED
    with pg_sessions() as session:
        assert set(owned_counts(session, org.org_id).values()) == {0}

    histories = await run_histories(client, handle.id, handle.result_run_id or "")
    sizes = [len(h.events) for h in histories]
    print(f"parent history events per run for {PROJECTS} projects: {sizes}")
    assert len(histories) == PROJECTS // (PAGE * PAGES_PER_RUN) + 1
    assert max(sizes) <= EVENTS_PER_RUN_BOUND
    # without continue-as-new the parent would hold all of them in one history
    assert sum(sizes) > EVENTS_PER_RUN_BOUND
