"""The `lifecycle` command line: one entry point, one module per command group.

Bad arguments exit with status 2 and a one-line usage error before anything runs, which is what
scripts calling the command expect. The help texts speak to the people running the engine.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from core.settings import Settings, SettingsError, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]


class CommandGroup(Protocol):
    """A module owning one command group: its arguments and its entry point."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


def _groups() -> list[tuple[str, str, CommandGroup]]:
    """The groups that follow the `add_arguments` + `run` convention; a new one is one line."""
    from lifecycle import (
        audit_cli,
        certificate_cli,
        datasets_cli,
        erasures_cli,
        keys_cli,
        members_cli,
        orgs_cli,
        projects_cli,
        schedules_cli,
        teardown_cli,
        workflows_cli,
    )

    return [
        ("schedules", "show, pause, unpause or trigger the key-expiry sweep schedule",
         schedules_cli),
        ("teardown", "plan, start, watch, cancel or expedite an org teardown", teardown_cli),
        ("orgs", "create an org; operator: list every org; show one", orgs_cli),
        ("members", "list, invite, accept, change roles or remove an org's members",
         members_cli),
        ("projects", "list, show, create, rename or delete an org's projects", projects_cli),
        ("datasets", "list, create or delete datasets; append and read records", datasets_cli),
        ("keys", "list, create, extend or delete an org's API keys", keys_cli),
        ("audit", "list or export an org's audit log", audit_cli),
        ("certificate", "verify a signed deletion certificate offline; make a signing key",
         certificate_cli),
        ("erasures", "after a database restore: delete again the orgs the erasure ledger "
                     "says were deleted", erasures_cli),
        ("workflows", "operator view: list workflows, show one, read its history",
         workflows_cli),
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


DESCRIPTION = """\
Org Lifecycle Engine: org teardowns and key-expiry reminders, run as Temporal workflows.
Run the engine (dev, worker, db upgrade), create demo data (seed), and manage teardowns,
API keys, workflows and the sweep schedule."""

EPILOG = """\
Settings come from LIFECYCLE_* environment variables (docs/settings.md lists them all).
`teardown` and `keys` act with the org admin's team key (LIFECYCLE_API_KEY or --api-key);
`workflows` reads with LIFECYCLE_OPERATOR_TOKEN. Exit status: 0 done, 1 refused, failed or
unreachable, 2 bad arguments or settings. `lifecycle <command> --help` explains each command."""


def _command(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand whose own --help starts with the line the overview shows."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text,
                                                     description=help_text[:1].upper()
                                                     + help_text[1:] + ".")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lifecycle", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = _command(sub, "db", "database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = _command(db_sub, "upgrade", "apply the migrations, to the latest unless told otherwise")
    up.add_argument("revision", nargs="?", default="head",
                    help="the revision to reach (default: head, the latest)")
    up.set_defaults(handler=_db_upgrade)

    dev = _command(sub, "dev", "run the Temporal dev server, the worker and the API together "
                               "on this machine (Ctrl-C stops all three)")
    from lifecycle.devstack import add_arguments as add_dev_arguments

    add_dev_arguments(dev)
    dev.set_defaults(handler=_dev)

    seed = _command(sub, "seed", "create demo orgs of a realistic shape and print each "
                                 "admin's team key (shown this once)")
    from lifecycle.seed import add_arguments as add_seed_arguments

    add_seed_arguments(seed)
    seed.set_defaults(handler=_seed)

    worker = _command(sub, "worker", "run the Temporal worker alone (SIGTERM stops it "
                                     "gracefully)")
    worker.set_defaults(handler=_worker)

    for name, help_text, group in _groups():
        command = _command(sub, name, help_text)
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
