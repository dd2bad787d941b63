"""History benchmark: the parent teardown's event counts per run as orgs grow (no timing).

`python -m bench.history [--projects 10,100,1000,10000]`. No history may grow with org size
(bounded history): the teardown runs one `purge_project` activity per project and continues as
new every `pages_per_run` pages of projects (or sooner when Temporal suggests it), so its
largest run must stop growing once an org fills one run. Each org has tiny datasets (one record
per project), since records are deleted inside the activity and never reach the history. The
dev server keeps its state in memory here: events are the same, only the wait is shorter.

`ratio` is the largest run's event count over Temporal's warning threshold (10,240 events):
below 1 means every run stays clear of it. `growth` is the largest org's biggest run over the
next smaller org's: about 1 once the bound is reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    HISTORY_WARN_EVENTS,
    Temporal,
    dev_server,
    say,
    temp_database,
    wait_for_pollers,
    worker_process,
)
from bench.results import result_line
from clients.teardown import start_teardown
from contracts.teardown import COMPLETED
from core.histories import run_histories
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from services.teardown import recorded_input
from store.db import make_engine, make_session_factory


@dataclass
class RunSizes:
    projects: int
    events: list[int]
    kilobytes: list[float]

    @property
    def biggest(self) -> int:
        return max(self.events)


def shape(projects: int) -> OrgShape:
    return OrgShape(projects=projects, datasets_per_project=1, records_per_dataset=1,
                    project_keys_per_project=0)


async def measure(temporal: Temporal, url: str, settings: Settings, projects: int,
                  queue: str) -> RunSizes:
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            org = seed_org(session, shape(projects), settings.pepper_bytes)
    finally:
        engine.dispose()
    inp = recorded_input(settings, org.org_id, f"member:{org.admin_member_id}", 0)
    handle = await start_teardown(temporal.client, settings, inp, queue)
    progress = await handle.result()
    if progress.status != COMPLETED:
        raise SystemExit(f"teardown of {projects} projects ended {progress.status}")
    histories = await run_histories(temporal.client, handle.id, handle.result_run_id or "")
    return RunSizes(projects, [len(h.events) for h in histories],
                    [sum(e.ByteSize() for e in h.events) / 1024 for h in histories])


async def run(args: argparse.Namespace) -> int:
    counts = sorted(int(p) for p in args.projects.split(","))
    results: list[RunSizes] = []
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp, \
            temp_database(Path(tmp)) as url:
        workdir = Path(tmp)
        settings = Settings(database_url=url, data_dir=workdir)
        queue = f"bench-history-{uuid.uuid4().hex[:6]}"
        async with dev_server(workdir, persistent=False) as temporal, \
                worker_process(url, temporal.address, queue, workdir) as worker:
            await wait_for_pollers(temporal.client, queue, worker)
            for projects in counts:
                say(f"tearing down an org of {projects:,} projects")
                results.append(await measure(temporal, url, settings, projects, queue))
    print(f"{'projects':>9} {'runs':>5} {'max events/run':>15} {'max KB/run':>11} "
          f"{'total events':>13}")
    for r in results:
        print(f"{r.projects:>9,} {len(r.events):>5} {r.biggest:>15,} {max(r.kilobytes):>11.0f} "
              f"{sum(r.events):>13,}")
    biggest = max(r.biggest for r in results)
    growth = results[-1].biggest / results[-2].biggest if len(results) > 1 else 1.0
    print(f"largest run {biggest} events = {biggest / HISTORY_WARN_EVENTS:.2f} of the "
          f"{HISTORY_WARN_EVENTS:,}-event warning threshold; growth at the top {growth:.2f}")
    fields: dict[str, object] = {
        f"p{r.projects}": f"{len(r.events)}runs/{r.biggest}max/{sum(r.events)}total"
        for r in results}
    print(result_line("history", biggest / HISTORY_WARN_EVENTS, max_events_per_run=biggest,
                      growth=growth, **fields))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--projects", default="10,100,1000,10000",
                        help="comma-separated project counts, one org each")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
