"""Each benchmark runs end to end at a tiny size, so they keep working (no timing asserted).

The benchmarks are separate programs (`python -m bench.<name>`) with their own dev server,
worker process and database, so they run here as subprocesses exactly as documented; a bench
that exits 0 and prints a parseable `RESULT` line has done its whole job at small scale.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from bench.common import local_activities

ROOT = Path(__file__).resolve().parents[2]
RESULT = re.compile(r"^RESULT name=(?P<name>\w+) ratio=(?P<ratio>[0-9.]+)(?P<rest>( \w+=\S+)*)$",
                    re.MULTILINE)

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
# with the raw SQL and with the plain script doing the same job.
REQUIRED_FIELDS = {"sweep": ("raw_s", "plain_s", "plain_ratio")}


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("bench", "args"), CASES, ids=[" ".join([b, *a]) for b, a in CASES])
def test_bench_runs_and_reports(bench: str, args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", f"bench.{bench}", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    match = RESULT.search(done.stdout)
    assert match is not None, done.stdout
    assert match["name"] == bench
    fields = dict(pair.split("=", 1) for pair in match["rest"].split())
    assert float(match["ratio"]) > 0
    assert fields, "a RESULT line carries key=value figures beside the ratio"
    for name in REQUIRED_FIELDS.get(bench, ()):
        assert float(fields.get(name, "0")) > 0, f"{name} missing from {match[0]}"


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
    path = ROOT / "tests" / "workflows" / "histories" / f"{fixture}.json"
    history = WorkflowHistory.from_json(fixture, path.read_text())
    assert local_activities(history) == expected
