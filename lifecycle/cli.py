"""The `lifecycle` command line: one entry point, one module per command group.

argparse is enough here and exits with status 2 and a one-line usage error on bad arguments,
which is what scripts calling us expect.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from core.settings import Settings, SettingsError, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]


class CommandGroup(Protocol):
    """A module owning one command group: its arguments and its entry point."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


def _groups() -> list[tuple[str, str, CommandGroup]]:
    """The groups that follow the `add_arguments` + `run` convention; a new one is one line."""
    from lifecycle import keys_cli, schedules_cli, teardown_cli, workflows_cli

    return [
        ("schedules", "the key-expiry sweep schedule", schedules_cli),
        ("teardown", "plan, start, watch, cancel an org teardown", teardown_cli),
        ("keys", "list, create, extend, delete an org's API keys", keys_cli),
        ("workflows", "operator view: list, show, history of workflows", workflows_cli),
    ]


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from store.migrate import upgrade

    upgrade(settings.effective_database_url, args.revision)
    print(f"database {settings.shown_database_url} at revision {args.revision}")
    return 0


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    from lifecycle.devstack import run_dev

    return run_dev(settings, args)


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from lifecycle.seed import run_seed

    return run_seed(settings, args)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from worker import main as worker_main

    return worker_main(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lifecycle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=_db_upgrade)

    dev = sub.add_parser("dev", help="run Temporal dev server, worker and API together")
    from lifecycle.devstack import add_arguments as add_dev_arguments

    add_dev_arguments(dev)
    dev.set_defaults(handler=_dev)

    seed = sub.add_parser("seed", help="create realistic demo data")
    from lifecycle.seed import add_arguments as add_seed_arguments

    add_seed_arguments(seed)
    seed.set_defaults(handler=_seed)

    worker = sub.add_parser("worker", help="run the Temporal worker only")
    worker.set_defaults(handler=_worker)

    for name, help_text, group in _groups():
        command = sub.add_parser(name, help=help_text)
        group.add_arguments(command)
        command.set_defaults(handler=group.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"lifecycle: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
