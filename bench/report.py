"""`python -m bench.report`: run the benchmarks and rewrite the figures table in the docs.

Why one command: the table in docs/benchmarks.md "Current figures" is what a reader trusts, so
each row must say what was run (the exact command), when, on how loaded a machine, and whether
its goal was met, and be regenerated rather than copied by hand. Each benchmark runs as the
docs run it (`python -m bench.<name> ...`, one after another, its progress on stderr); its
`RESULT` line (bench/results.py) becomes its row, between `<!-- figures:begin -->` and
`<!-- figures:end -->`. A benchmark whose goals are stated at two sizes has a row for each
(`teardown` at 1M records, `teardown-10m`). `--only ROW` runs a subset, `--from FILE` takes
`RESULT` lines captured earlier instead of running (the commands shown are then those of the
flags given); rows not run keep their previous content.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bench.figures import ROWS, render_row
from bench.results import Result, parse_results

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
HEADER = ("| bench | measured | engine | baseline | ratio | goal | met | how to run | date "
          "| load |\n" + "|---" * 10 + "|")


class ReportError(Exception):
    """The doc cannot be rewritten (no markers) or a benchmark gave no figures."""


@dataclass(frozen=True)
class Run:
    """One benchmark's figures, the circumstances of its run, and the row they fill (the
    benchmark's own name unless it has several rows)."""

    result: Result
    command: str
    date: str
    load: str
    row: str = ""

    @property
    def row_name(self) -> str:
        return self.row or self.result.name


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """Each row's benchmark arguments at the sizes the flags give (the documented defaults)."""
    return {
        "teardown": ["--records", str(args.records), "--objects", str(args.objects)],
        "teardown-10m": ["--records", str(args.big_records), "--objects", "0"],
        "orchestration": ["--orgs", str(args.orgs)],
        "sweep": ["--keys", str(args.keys), "--orgs", str(args.sweep_orgs)],
        "api": ["--seconds", str(args.seconds), "--orgs", str(args.api_orgs)],
        "history": ["--projects", args.projects],
    }


def shown(name: str, argv: Sequence[str]) -> str:
    return " ".join([".venv/bin/python", "-m", f"bench.{name}", *argv])


def load_average() -> str:
    """The 1-minute load average, as `uptime` shows it."""
    return f"{os.getloadavg()[0]:.1f}"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def run_bench(name: str, argv: Sequence[str]) -> tuple[Run | None, int]:
    """Run one benchmark as the docs run it; its figures (None without a RESULT line) and
    its exit status. Its stdout is shown as it was captured, its stderr passes through."""
    before = load_average()
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", *argv], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True, check=False)
    after = load_average()
    sys.stdout.write(done.stdout)
    found = [r for r in parse_results(done.stdout) if r.name == name]
    if not found:
        return None, done.returncode or 1
    return Run(found[-1], shown(name, argv), today(), f"{before} -> {after}"), done.returncode


def from_file(path: Path, wanted: Sequence[str], argvs: dict[str, list[str]]) -> list[Run]:
    """For each wanted row, the last `RESULT` line in `path` of its benchmark and size."""
    date = datetime.fromtimestamp(path.stat().st_mtime, UTC).date().isoformat()
    results = parse_results(path.read_text(encoding="utf-8"))
    runs = []
    for name in wanted:
        row = ROWS[name]
        fitting = [r for r in results if r.name == row.bench and row.fits(r)]
        if fitting:
            runs.append(Run(fitting[-1], shown(row.bench, argvs[name]), date, "not recorded",
                            name))
    return runs


def rewrite(doc: str, runs: Sequence[Run]) -> str:
    """`doc` with the figures table between the markers regenerated: a row per run, the
    other benchmarks' rows as they were, in the order of `ROWS` (unknown rows last)."""
    # A marker counts only as a line of its own: the page's prose names them in backticks.
    found = re.search(rf"^{re.escape(BEGIN)}$(?P<table>.*?)^{re.escape(END)}$", doc,
                      re.MULTILINE | re.DOTALL)
    if found is None:
        raise ReportError(f"the figures table needs the markers {BEGIN} and {END}, "
                          "each on a line of its own, in that order")
    head, table, tail = doc[:found.start()], found["table"], doc[found.end():]
    old: dict[str, str] = {}
    for line in table.strip().splitlines()[2:]:
        cells = line.strip().strip("|").split("|")
        if cells and cells[0].strip():
            old[cells[0].strip()] = line.strip()
    new = {run.row_name: render_row(run.row_name, run.result, run.command, run.date,
                                    run.load) for run in runs}
    names = [*ROWS, *(name for name in old if name not in ROWS)]
    lines = [new.get(name) or old.get(name) for name in names]
    body = "\n".join([HEADER, *(line for line in lines if line)])
    return f"{head}{BEGIN}\n{body}\n{END}{tail}"


def main(argv: list[str] | None = None, run: Callable[[str, Sequence[str]],
         tuple[Run | None, int]] = run_bench) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=list(ROWS), metavar="ROW",
                        help=f"run only this row's benchmark (repeatable): {', '.join(ROWS)}")
    parser.add_argument("--from", dest="source", type=Path, metavar="FILE",
                        help="take the RESULT lines captured in FILE instead of running")
    parser.add_argument("--doc", type=Path, default=DOC, help="the page to rewrite")
    parser.add_argument("--records", type=int, default=1_000_000, help="teardown (1,000,000)")
    parser.add_argument("--objects", type=int, default=20_000,
                        help="teardown's dataset files (20,000; 0 skips SeaweedFS)")
    parser.add_argument("--big-records", type=int, default=10_000_000,
                        help="teardown-10m's records (10,000,000)")
    parser.add_argument("--orgs", type=int, default=200, help="orchestration's teardowns (200)")
    parser.add_argument("--keys", type=int, default=1_000_000, help="sweep (1,000,000)")
    parser.add_argument("--sweep-orgs", type=int, default=1000, help="sweep's orgs (1,000)")
    parser.add_argument("--seconds", type=int, default=10, help="api's seconds per route (10)")
    parser.add_argument("--api-orgs", type=int, default=20, help="api's seeded orgs (20)")
    parser.add_argument("--projects", default="10,100,1000,10000",
                        help="history's org sizes (10,100,1000,10000)")
    args = parser.parse_args(argv)
    wanted = args.only or list(ROWS)
    argvs = commands(args)
    doc = args.doc.read_text(encoding="utf-8")
    rewrite(doc, [])  # no markers: say so before an hour of benchmarks, not after
    status = 0
    if args.source is not None:
        runs = from_file(args.source, wanted, argvs)
        status = int(len(runs) < len(wanted))
    else:
        runs = []
        for name in wanted:
            got, code = run(ROWS[name].bench, argvs[name])
            status = status or code
            runs += [replace(got, row=name)] if got is not None else []
    missing = sorted(set(wanted) - {r.row_name for r in runs})
    if missing:
        print(f"no RESULT line from {', '.join(missing)}: their rows are unchanged",
              file=sys.stderr)
    args.doc.write_text(rewrite(doc, runs), encoding="utf-8")
    for each in runs:
        print(render_row(each.row_name, each.result, each.command, each.date, each.load))
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ReportError as err:
        sys.exit(f"bench.report: {err}")
