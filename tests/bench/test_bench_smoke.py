"""Each benchmark runs end to end at a tiny size, so they keep working (no timing asserted).

The benchmarks are separate programs (`python -m bench.<name>`) with their own dev server,
worker process and database, so they run here as subprocesses exactly as documented; a bench
that exits 0 and prints a parseable `RESULT` line has done its whole job at small scale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from bench.common import ActivityMix, activity_mix, local_activities
from bench.results import parse_results

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "workflows" / "histories"

CASES = [
    ("teardown", ["--records", "2000", "--objects", "300"]),
    ("teardown", ["--records", "2000", "--sqlite", "--objects", "0"]),
    ("orchestration", ["--orgs", "3"]),
    ("history", ["--projects", "3,5"]),
    ("api", ["--seconds", "1", "--orgs", "2"]),
    ("sweep", ["--keys", "2000", "--orgs", "5", "--page-size", "300", "--pages-per-run", "3"]),
    ("soak", ["--minutes", "0.33", "--clients", "3"]),  # a 20-second soak
]

# Figures a bench's RESULT line must carry besides its ratio: the sweep compares the engine
# with the raw SQL and with the plain script doing the same job, the teardown with batched SQL
# and with one plain DELETE, the orchestration both sides' local and regular activities and
# where each side's CPU went.
REQUIRED_FIELDS = {
    "sweep": ("raw_s", "plain_s", "plain_ratio"),
    "teardown": ("raw_s", "delete_s", "purge_vs_delete", "delete_ratio"),
    "orchestration": ("engine_local", "engine_regular", "trivial_local", "trivial_regular",
                      "engine_worker_cpu_s", "trivial_server_cpu_s", "engine_rest_cpu_s"),
}


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("bench", "args"), CASES, ids=[" ".join([b, *a]) for b, a in CASES])
def test_bench_runs_and_reports(bench: str, args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", f"bench.{bench}", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    results = parse_results(done.stdout)
    assert len(results) == 1, done.stdout
    result = results[0]
    assert result.name == bench
    assert result.ratio > 0
    assert result.fields, "a RESULT line carries key=value figures beside the ratio"
    for name in REQUIRED_FIELDS.get(bench, ()):
        assert float(result.fields.get(name, "0")) > 0, f"{name} missing from {result}"
    if bench == "orchestration":  # like with like: the baseline ran the teardown's mix
        for kind in ("local", "regular"):
            assert result.fields[f"trivial_{kind}"] == result.fields[f"engine_{kind}"]


@pytest.mark.parametrize(("fixture", "expected"), [
    ("key_expiry_sweep", 0),  # page activities only: all regular
    # freeze, requested notice, begin_destruction, list_subscriptions, three cancellations and
    # the project page, each recorded as a local activity marker
    ("teardown_completed", 8),
    # the last (empty) project page, the six short steps after the purge, the certificate and
    # the completed notice
    ("teardown_completed_last_run", 9),
])
def test_local_activities_are_counted_as_activities_run(fixture: str, expected: int) -> None:
    """The orchestration bench compares activities run: a teardown's local steps must count."""
    assert local_activities(history(fixture)) == expected


def history(fixture: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(fixture, (HISTORIES / f"{fixture}.json").read_text())


def test_the_mix_splits_local_steps_around_the_regular_purges() -> None:
    """The orchestration baseline runs the teardown's mix: the local steps before the project
    purges (in the first run), the purges, the local steps after (in the run continued as new)."""
    chain = [history("teardown_completed"), history("teardown_completed_last_run")]
    assert activity_mix(chain) == ActivityMix(local_before=8, regular=2, local_after=9)
    assert activity_mix([history("key_expiry_sweep")]).local == 0
