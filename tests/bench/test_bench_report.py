"""`bench.report` turns RESULT lines into the figures table's rows (no benchmark runs here).

The lines below are real ones, printed by the benchmarks at small sizes; what is checked is
the parsing, the goals' verdict and the rewrite between the markers, never a timing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bench import report
from bench.figures import render_row
from bench.results import parse_results, result_line

TEARDOWN = ("RESULT name=teardown ratio=6.588 records=20000 db=postgresql engine_s=1.493 "
            "raw_s=0.227 delete_s=0.036 delete_records_s=0.016 purge_s=1.118 "
            "purge_vs_delete=0.014 delete_ratio=41.839 engine_rps=13393 raw_rps=88231 "
            "worker_peak_rss_mb=146.223 worker_idle_rss_mb=136.230 worker_cpu_s=1.170 "
            "server_cpu_s=0.470 history=127")
ORCHESTRATION = ("RESULT name=orchestration ratio=0.274 orgs=50 activities_per_org=21 "
                 "engine_local=17 engine_regular=4 trivial_local=17 trivial_regular=4 "
                 "engine_s=15.787 trivial_s=4.319 engine_aps=66.509 trivial_aps=243.107")
SWEEP = ("RESULT name=sweep ratio=37.851 keys=2000 due=176 reminders=176 ledger_rows=308 "
         "engine_s=0.360 raw_s=0.010 plain_s=0.041 plain_ratio=8.737 keys_s=0.042 "
         "compose_s=0.042 deliver_s=0.079 mails=4 runs=1 page_size=10000 worker_cpu_s=0.130 "
         "server_cpu_s=0.130")
BIG_TEARDOWN = (TEARDOWN.replace("records=20000", "records=10000000")
                .replace("ratio=6.588", "ratio=0.798")
                .replace("purge_vs_delete=0.014", "purge_vs_delete=0.957"))
HISTORY = ("RESULT name=history ratio=0.006 max_events_per_run=57 growth=1.357 "
           "p3=1runs/42max/42total p5=1runs/57max/57total")
CAPTURED = f"progress on stdout\n{TEARDOWN}\nmore\n{ORCHESTRATION}\n{SWEEP}\n{HISTORY}\n"
DOC = """# Benchmarks

## Current figures

<!-- figures:begin -->
| bench | measured | engine | baseline | ratio | goal | met | how to run | date | load |
|---|---|---|---|---|---|---|---|---|---|
| teardown | old | old | old | old | old | met | `old` | 2026-11-23 | 0.3 |
| history | kept | kept | kept | kept | kept | met | `kept` | 2026-12-01 | 0.5 |
<!-- figures:end -->

### Teardown
"""


def test_real_result_lines_are_parsed() -> None:
    results = parse_results(CAPTURED)
    assert [r.name for r in results] == ["teardown", "orchestration", "sweep", "history"]
    teardown = results[0]
    assert teardown.ratio == 6.588
    assert teardown.number("purge_vs_delete") == 0.014
    assert teardown.fields["db"] == "postgresql"
    with pytest.raises(KeyError, match="no objects_ratio"):
        teardown.number("objects_ratio")


def test_the_writer_and_the_parser_agree() -> None:
    (parsed,) = parse_results(result_line("api", 0.5, p99_ms=12.25, connections=16))
    assert (parsed.name, parsed.ratio, parsed.fields) == (
        "api", 0.5, {"p99_ms": "12.250", "connections": "16"})


def run_of(line: str, command: str = "cmd") -> report.Run:
    return report.Run(parse_results(line)[0], command, "2026-12-02", "0.4 -> 0.6")


def test_rewrite_replaces_the_rows_run_and_keeps_the_others() -> None:
    out = report.rewrite(DOC, [run_of(TEARDOWN, ".venv/bin/python -m bench.teardown"),
                               run_of(SWEEP)])
    assert out.startswith("# Benchmarks\n\n## Current figures\n\n<!-- figures:begin -->\n")
    assert out.endswith("<!-- figures:end -->\n\n### Teardown\n")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| bench", "| teardown", "| sweep",
                                                     "| history"]
    assert "| history | kept |" in rows[3]
    assert "`.venv/bin/python -m bench.teardown`" in rows[1]
    assert "2026-12-02 | 0.4 -> 0.6 |" in rows[1]
    assert "old" not in out
    assert report.rewrite(out, []) == out  # rows not run stay exactly as they were


def test_markers_named_in_prose_are_not_the_table() -> None:
    """The page explains the markers in backticks above the table: only whole-line markers
    delimit it."""
    prose = ("Rewrites the table between `<!-- figures:begin -->` and `<!-- figures:end -->`.\n\n")
    doc = DOC.replace("## Current figures\n", "## Current figures\n\n" + prose, 1)
    out = report.rewrite(doc, [run_of(SWEEP)])
    assert prose in out
    assert out.count("| sweep |") == 1
    assert out.index(prose) < out.index("| sweep |")


def row(line: str, name: str = "") -> str:
    result = parse_results(line)[0]
    return render_row(name or result.name, result, "c", "d", "l")


def test_a_failed_goal_shows_not_met() -> None:
    teardown = row(TEARDOWN)
    assert "| **not met** |" in teardown  # ratio 6.59 > 1.2
    assert "| ratio <= 1.2 |" in teardown
    assert "| **not met** |" in row(SWEEP)  # 37.9 vs raw SQL, 8.7 vs the plain script
    assert "| met |" in row(HISTORY)  # 57 events: 0.006 of the warning threshold
    assert "| **not met** |" in row(HISTORY.replace("ratio=0.006", "ratio=1.000"))
    assert "| met |" in row(TEARDOWN.replace("ratio=6.588", "ratio=1.100"))
    big = row(BIG_TEARDOWN, "teardown-10m")
    assert "| ratio <= 1, purge vs DELETE >= 0.8 | met |" in big
    assert big.startswith("| teardown-10m | 10,000,000 records, postgresql |")
    slow_purge = BIG_TEARDOWN.replace("purge_vs_delete=0.957", "purge_vs_delete=0.700")
    assert "| **not met** |" in row(slow_purge, "teardown-10m")  # the ratio alone is not both
    assert "| met |" in row(ORCHESTRATION.replace("ratio=0.274", "ratio=0.700"))


@pytest.mark.parametrize("doc", ["# no table\n", "<!-- figures:end -->\n<!-- figures:begin -->"])
def test_missing_markers_are_a_clear_error(doc: str) -> None:
    with pytest.raises(report.ReportError, match="figures:begin"):
        report.rewrite(doc, [])


def test_from_a_file_only_the_named_rows_change(tmp_path: Path) -> None:
    page, captured = tmp_path / "benchmarks.md", tmp_path / "results.txt"
    page.write_text(DOC)
    captured.write_text(CAPTURED)

    assert report.main(["--doc", str(page), "--from", str(captured), "--only", "orchestration",
                        "--orgs", "50"], run=never_runs) == 0
    text = page.read_text()
    assert "`.venv/bin/python -m bench.orchestration --orgs 50`" in text
    assert "| teardown | old |" in text and "| history | kept |" in text
    assert "not recorded" in text


def test_a_bench_without_a_result_line_keeps_its_row_and_fails(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(DOC)
    ran: list[str] = []

    def fake(name: str, argv: Sequence[str]) -> tuple[report.Run | None, int]:
        ran.append(" ".join([name, *argv]))
        return (run_of(TEARDOWN), 0) if name == "teardown" else (None, 1)

    assert report.main(["--doc", str(page), "--only", "teardown", "--only", "history",
                        "--records", "2000", "--objects", "0"], run=fake) == 1
    assert ran == ["teardown --records 2000 --objects 0",
                   "history --projects 10,100,1000,10000"]
    text = page.read_text()
    assert "| history | kept |" in text and "| teardown | old |" not in text


def test_missing_markers_stop_the_report_before_any_bench_runs(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# no table\n")

    def never(name: str, argv: Sequence[str]) -> tuple[report.Run | None, int]:
        raise AssertionError("no benchmark runs for a page that cannot take its row")

    with pytest.raises(report.ReportError):
        report.main(["--doc", str(page)], run=never)


def test_a_benchmark_with_two_sizes_fills_a_row_for_each(tmp_path: Path) -> None:
    """The teardown's goals are stated at 1M and at 10M records: each captured line goes to
    the row of its size, and running the big row runs the same benchmark at its size."""
    page, captured = tmp_path / "benchmarks.md", tmp_path / "results.txt"
    page.write_text(DOC)
    captured.write_text(f"{BIG_TEARDOWN}\n{TEARDOWN}\n")
    assert report.main(["--doc", str(page), "--from", str(captured), "--only", "teardown",
                        "--only", "teardown-10m"], run=never_runs) == 0
    rows = {line.split(" | ")[0]: line for line in page.read_text().splitlines()
            if line.startswith("| teardown")}
    assert "| 20,000 records" in rows["| teardown"]
    assert "| 10,000,000 records" in rows["| teardown-10m"]
    assert "--records 10000000 --objects 0" in rows["| teardown-10m"]
    ran: list[str] = []

    def fake(name: str, argv: Sequence[str]) -> tuple[report.Run | None, int]:
        ran.append(" ".join([name, *argv]))
        return run_of(BIG_TEARDOWN), 0

    page.write_text(DOC)
    assert report.main(["--doc", str(page), "--only", "teardown-10m"], run=fake) == 0
    assert ran == ["teardown --records 10000000 --objects 0"]
    text = page.read_text()
    assert "| teardown | old |" in text and "| teardown-10m | 10,000,000 records" in text


def never_runs(name: str, argv: Sequence[str]) -> tuple[report.Run | None, int]:
    raise AssertionError("--from runs no benchmark")
