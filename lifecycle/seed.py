"""`lifecycle seed`: realistic demo orgs, fast, each with its admin's team key shown once.

Why the admin key is printed here and nowhere else: a key's secret is never stored (only its
prefix and an HMAC), so the moment it is made is the only moment it exists in clear. It goes to
stdout, for the operator or a calling script; progress and the summary go to stderr, which CI
systems tend to keep, and nothing is logged.

Each org is seeded and committed in its own transaction, so an interrupted run leaves whole orgs
only, and every key printed belongs to an org that exists. Arguments are checked before the
database is touched: a bad one exits with status 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from typing import Any

import psycopg2
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.settings import Settings
from lifecycle.progress import Progress
from services.seeding import OrgShape, SeededOrg, seed_org
from store.db import make_engine, make_session_factory
from store.migrate import upgrade

# Per-flag caps: far above any demo or benchmark, low enough that a typo (an extra zero or
# three) is refused instead of filling the disk.
MAX_ORGS = 10_000
MAX_PROJECTS = 1_000
MAX_DATASETS = 1_000
MAX_RECORDS = 10_000_000
MAX_KEYS = 1_000
MAX_MEMBERS = 10_000
# Caps on the product of the flags: each flag can be sane while their product is not.
MAX_TOTAL_RECORDS = 100_000_000
MAX_TOTAL_DATASETS = 1_000_000

ADJECTIVES = ["Northwind", "Blue Harbor", "Quantum", "Evergreen", "Silverline", "Red Rock",
              "Lumen", "Atlas", "Cobalt", "Summit", "Kestrel", "Orchid"]
NOUNS = ["Analytics", "Robotics", "Health", "Logistics", "Labs", "Media", "Energy", "Foods",
         "Genomics", "Finance", "Studios", "Systems"]


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse `type=` that accepts integers in [low, high] with a one-line reason if not."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}, got {value:,}")
        return value

    parse.__name__ = "integer"
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `lifecycle seed`; every count is exact, and defaults make a small demo."""
    # One usage line, so a bad argument costs the operator two lines of stderr, not five.
    parser.usage = ("%(prog)s [--orgs N] [--projects P] [--datasets D] [--records R] [--keys K] "
                    "[--members M] [--seed S] [--json]")
    parser.add_argument("--orgs", type=bounded_int(1, MAX_ORGS), default=1, metavar="N",
                        help="organizations to create (default 1)")
    parser.add_argument("--projects", type=bounded_int(0, MAX_PROJECTS), default=3, metavar="P",
                        help="projects per org (default 3)")
    parser.add_argument("--datasets", type=bounded_int(0, MAX_DATASETS), default=4, metavar="D",
                        help="datasets per project (default 4)")
    parser.add_argument("--records", type=bounded_int(0, MAX_RECORDS), default=1_000,
                        metavar="R", help="records per dataset (default 1000)")
    parser.add_argument("--keys", type=bounded_int(1, MAX_KEYS), default=2, metavar="K",
                        help="team API keys per org, the admin's own key first; only the "
                             "admin's secret is shown (default 2)")
    parser.add_argument("--members", type=bounded_int(1, MAX_MEMBERS), default=5, metavar="M",
                        help="members per org, the admin included (default 5)")
    parser.add_argument("--seed", type=bounded_int(0), default=None, metavar="S",
                        help="seed the random choices (names, plans, amounts, payloads) for a "
                             "repeatable shape; ids and key secrets stay random")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on stdout instead of one line per org")


def _check_totals(args: argparse.Namespace) -> str | None:
    """Why the flags together ask for too much, or None when they are fine."""
    datasets = args.orgs * args.projects * args.datasets
    if datasets > MAX_TOTAL_DATASETS:
        return (f"--orgs x --projects x --datasets asks for {datasets:,} datasets; "
                f"the most is {MAX_TOTAL_DATASETS:,}")
    records = datasets * args.records
    if records > MAX_TOTAL_RECORDS:
        return (f"--orgs x --projects x --datasets x --records asks for {records:,} records; "
                f"the most is {MAX_TOTAL_RECORDS:,}")
    return None


def _org_name(rng: random.Random, index: int) -> str:
    return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {index + 1}"


def _seed_orgs(settings: Settings, args: argparse.Namespace, progress: Progress,
               on_org: Callable[[SeededOrg], None]) -> None:
    """Migrate, then seed the orgs one committed transaction each, handing each to `on_org`."""
    shape = OrgShape(projects=args.projects, datasets_per_project=args.datasets,
                     records_per_dataset=args.records, members=args.members,
                     team_keys=args.keys)
    rng = random.Random(args.seed)
    url = settings.effective_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        tables: set[str] = set()
        for index in range(args.orgs):
            with factory.begin() as session:
                seeded = seed_org(session, shape, settings.pepper_bytes,
                                  name=_org_name(rng, index), rng=rng, on_records=progress.add)
            tables.update(seeded.counts)
            on_org(seeded)
        if engine.dialect.name == "postgresql" and tables:
            # Fresh planner statistics, so the purge's batch queries get index plans right away
            # instead of after autovacuum notices a million new rows.
            with engine.begin() as conn:
                conn.execute(text("ANALYZE " + ", ".join(sorted(tables))))
    finally:
        engine.dispose()


def _summary(args: argparse.Namespace, totals: dict[str, int], elapsed: float) -> str:
    team_keys = args.orgs * args.keys
    records = totals.get("dataset_records", 0)
    rate = records / elapsed if elapsed > 0 else 0.0
    return (f"seeded {totals.get('organizations', 0):,} orgs: "
            f"{totals.get('projects', 0):,} projects, {totals.get('datasets', 0):,} datasets, "
            f"{records:,} records, {team_keys:,} team keys, "
            f"{totals.get('api_keys', 0) - team_keys:,} project keys, "
            f"{totals.get('members', 0):,} members in {elapsed:.1f} s ({rate:,.0f} records/s)")


def run_seed(settings: Settings, args: argparse.Namespace) -> int:
    """Seed, print each org's admin key as soon as its org is committed, then a summary."""
    problem = _check_totals(args)
    if problem:
        print(f"lifecycle seed: error: {problem}", file=sys.stderr)
        return 2
    total_records = args.orgs * args.projects * args.datasets * args.records
    print(f"lifecycle seed: database {settings.shown_database_url}", file=sys.stderr)
    progress = Progress(total_records, sys.stderr)
    totals: dict[str, int] = {}
    orgs: list[dict[str, Any]] = []

    def on_org(seeded: SeededOrg) -> None:
        for table, count in seeded.counts.items():
            totals[table] = totals.get(table, 0) + count
        if args.json:
            orgs.append({"org_id": seeded.org_id, "name": seeded.name,
                         "admin_email": seeded.admin_email, "admin_key": seeded.admin_key,
                         "counts": seeded.counts})
        else:
            print(f"org {seeded.org_id}  admin key {seeded.admin_key}  "
                  f"({seeded.name}, {seeded.admin_email})", flush=True)

    error: str | None = None
    try:
        _seed_orgs(settings, args, progress, on_org)
    except (SQLAlchemyError, psycopg2.Error) as exc:
        # Orgs committed before the failure exist: their keys must still reach the operator.
        lines = str(exc).strip().splitlines()
        error = (f"lifecycle seed: database error after {totals.get('organizations', 0)} "
                 f"committed org(s): {lines[0] if lines else type(exc).__name__}")
    if args.json:
        json.dump({"orgs": orgs, "totals": totals, "elapsed_seconds": round(progress.elapsed, 3),
                   "error": error}, sys.stdout, indent=2)
        print()
    if error:
        print(error, file=sys.stderr)
        return 1
    print(_summary(args, totals, progress.elapsed), file=sys.stderr)
    return 0
