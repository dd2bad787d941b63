"""What each benchmark's row of the figures table shows, and the goals it is held to.

Why here and not in each bench: the goals are the product's (docs/benchmarks.md states them
once, in the table this renders), and a row must say whether they were met from the `RESULT`
line alone, so `bench.report --from FILE` can rebuild a row from figures captured elsewhere.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from bench.results import Result

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt}


@dataclass(frozen=True)
class Goal:
    """`field op limit` on a RESULT line (`ratio` or a key=value figure)."""

    label: str
    field: str
    op: str
    limit: float

    def met(self, result: Result) -> bool:
        return COMPARE[self.op](result.number(self.field), self.limit)

    def __str__(self) -> str:
        return f"{self.label} {self.op} {self.limit:g}"


def always(_result: Result) -> bool:
    return True


@dataclass(frozen=True)
class Row:
    """The cells of one row, each read from a RESULT line of its benchmark (`bench`).

    A benchmark may have several rows, one per size its goals are stated at; `fits` says
    whether a captured RESULT line is of this row's size (`bench.report --from`)."""

    bench: str
    measured: Callable[[Result], str]
    engine: Callable[[Result], str]
    baseline: Callable[[Result], str]
    ratio: Callable[[Result], str]
    goals: tuple[Goal, ...]
    fits: Callable[[Result], bool] = always


BIG_TEARDOWN = 10_000_000


def num(result: Result, key: str, spec: str = ".2f") -> str:
    return format(result.number(key), spec)


def _teardown_measured(r: Result) -> str:
    return f"{int(r.number('records')):,} records, {r.fields.get('db', '')}"


def _teardown_engine(r: Result) -> str:
    return f"{num(r, 'engine_s')} s (purge {num(r, 'purge_s')} s)"


def _teardown_baseline(r: Result) -> str:
    return f"{num(r, 'raw_s')} s batched SQL; one DELETE {num(r, 'delete_s')} s"


def _teardown_ratio(r: Result) -> str:
    return (f"**{r.ratio:.2f}**; purge {num(r, 'purge_vs_delete')} of one DELETE's rate; "
            f"{num(r, 'delete_ratio')} vs one DELETE")


ROWS: dict[str, Row] = {
    "teardown": Row(
        bench="teardown", measured=_teardown_measured, engine=_teardown_engine,
        baseline=_teardown_baseline, ratio=_teardown_ratio,
        goals=(Goal("ratio", "ratio", "<=", 1.2),),
        fits=lambda r: r.number("records") < BIG_TEARDOWN),
    # At ten times the size the fixed costs are gone: what is left is the purge's own rate.
    "teardown-10m": Row(
        bench="teardown", measured=_teardown_measured, engine=_teardown_engine,
        baseline=_teardown_baseline, ratio=_teardown_ratio,
        goals=(Goal("ratio", "ratio", "<=", 1.0),
               Goal("purge vs DELETE", "purge_vs_delete", ">=", 0.8)),
        fits=lambda r: r.number("records") >= BIG_TEARDOWN),
    "orchestration": Row(
        bench="orchestration",
        measured=lambda r: (f"{int(r.number('orgs'))} teardowns at once, "
                            f"{r.fields.get('engine_local')} local + "
                            f"{r.fields.get('engine_regular')} regular activities each"),
        engine=lambda r: f"{num(r, 'engine_s', '.1f')} s ({num(r, 'engine_aps', '.1f')}/s)",
        baseline=lambda r: (f"{num(r, 'trivial_s', '.1f')} s "
                            f"({num(r, 'trivial_aps', '.1f')}/s), "
                            f"{r.fields.get('trivial_local')} local + "
                            f"{r.fields.get('trivial_regular')} regular"),
        ratio=lambda r: f"**{r.ratio:.2f}** (throughput)",
        goals=(Goal("throughput ratio", "ratio", ">=", 0.7),)),
    "sweep": Row(
        bench="sweep",
        measured=lambda r: f"{int(r.number('keys')):,} keys, {int(r.number('due')):,} due",
        engine=lambda r: f"{num(r, 'engine_s')} s",
        baseline=lambda r: f"{num(r, 'raw_s')} s raw SQL; {num(r, 'plain_s')} s plain script",
        ratio=lambda r: f"**{r.ratio:.2f}** vs raw, **{num(r, 'plain_ratio')}** vs plain",
        goals=(Goal("vs raw SQL", "ratio", "<=", 3), Goal("vs plain", "plain_ratio", "<=", 1.3))),
    "api": Row(
        bench="api",
        measured=lambda r: f"GET /orgs/{{id}}, {r.fields.get('connections', '?')} connections",
        engine=lambda r: (f"{num(r, 'org_rps', ',.0f')} req/s, p99 {num(r, 'p99_ms', '.1f')} ms;"
                          f" plan p99 {num(r, 'plan_p99_ms', '.1f')} ms"),
        baseline=lambda r: (f"/healthz {num(r, 'healthz_rps', ',.0f')} req/s, "
                            f"p99 {num(r, 'healthz_p99_ms', '.1f')} ms"),
        ratio=lambda r: f"**{r.ratio:.2f}**",
        goals=(Goal("ratio", "ratio", ">=", 0.3), Goal("p99 ms", "p99_ms", "<=", 25),
               Goal("plan p99 ms", "plan_p99_ms", "<=", 50))),
    "history": Row(
        bench="history",
        measured=lambda r: "largest run of the teardowns' chains, "
                           + ", ".join(k[1:] for k in r.fields if k[1:].isdigit())
                           + " projects",
        engine=lambda r: f"{int(r.number('max_events_per_run')):,} events",
        baseline=lambda r: "10,240-event warning",
        ratio=lambda r: f"**{r.ratio:.2f}** (growth {num(r, 'growth')})",
        goals=(Goal("ratio", "ratio", "<", 1),)),
}


def render_row(name: str, result: Result, command: str, date: str, load: str) -> str:
    """Row `name` of the table as Markdown; `met` only when every goal is."""
    row = ROWS[name]
    met = all(goal.met(result) for goal in row.goals)
    cells = [name, row.measured(result), row.engine(result), row.baseline(result),
             row.ratio(result), ", ".join(str(goal) for goal in row.goals),
             "met" if met else "**not met**", f"`{command}`", date, load]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
