"""`lifecycle projects list|show|create|rename|delete|deletion|cancel-deletion`: an org's
projects from a terminal.

A thin client of the project routes (`api/routes/projects.py`, `project_deletion.py`), so the
admin-only rules, the frozen-org and frozen-project refusals and the audit trail apply as in
the console. `delete` asks for the project's deletion (a durable workflow, cancellable during
its grace window) and needs the project's exact name as `--confirm`; `deletion` shows its
progress, `--follow` until it ends. Conventions as `lifecycle keys` (see
`lifecycle.api_client`): tables for people, the API's JSON with `--json`, one-line errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from core.settings import Settings
from lifecycle.api_client import (
    API_KEY_ENV,
    Api,
    CliError,
    add_connection_arguments,
    api_key,
    connect,
    one_line,
    positive_int,
    report,
)
from lifecycle.cli_output import fields, print_json, when
from lifecycle.listing import print_listing
from lifecycle.teardown_cli import progress_line

COLUMNS = ("ID", "NAME", "STATUS", "DATASETS", "RECORDS", "CREATED")
TERMINAL = ("completed", "cancelled", "failed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="projects_command", required=True)
    listing = sub.add_parser("list", help="list an org's projects with their counts")
    listing.add_argument("org_id")
    listing.add_argument("--limit", type=positive_int, default=50,
                         help="projects per page (default 50, at most 200)")
    listing.add_argument("--cursor", default="", help="start after this page cursor")
    listing.add_argument("--all", action="store_true", help="follow every page to the end")

    show = sub.add_parser("show", help="one project with its dataset and record counts")
    show.add_argument("org_id")
    show.add_argument("project_id")

    create = sub.add_parser("create", help="create a project")
    create.add_argument("org_id")
    create.add_argument("--name", required=True, type=one_line)

    rename = sub.add_parser("rename", help="rename a project")
    rename.add_argument("org_id")
    rename.add_argument("project_id")
    rename.add_argument("--name", required=True, type=one_line)

    delete = sub.add_parser("delete", help="delete a project (durable, cancellable in grace)")
    delete.add_argument("org_id")
    delete.add_argument("project_id")
    delete.add_argument("--confirm", required=True, type=one_line, metavar="PROJECT_NAME",
                        help="the project's exact name")
    delete.add_argument("--grace-seconds", type=int,
                        help="grace window before the purge (default from the server)")

    deletion = sub.add_parser("deletion", help="progress of a project's deletion")
    deletion.add_argument("org_id")
    deletion.add_argument("project_id")
    deletion.add_argument("--follow", action="store_true",
                          help="poll until completed, cancelled or failed")
    deletion.add_argument("--interval", type=float, default=1.0,
                          help="seconds between polls with --follow (default 1)")

    cancel = sub.add_parser("cancel-deletion", help="cancel a deletion during its grace window")
    cancel.add_argument("org_id")
    cancel.add_argument("project_id")

    for command in (listing, show, create, rename, delete, deletion, cancel):
        add_connection_arguments(command, api_key=True)


def _row(project: dict[str, Any]) -> tuple[Any, ...]:
    return (project["id"], project["name"], project["status"], project["datasets"],
            project["records"], when(project["created_at"]))


def _one(project: dict[str, Any], args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        print_json(project, out)
        return
    print(fields([("id", project["id"]), ("name", project["name"]),
                  ("status", project["status"]), ("datasets", project["datasets"]),
                  ("records", project["records"]), ("created", when(project["created_at"]))]),
          file=out)


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    print_listing(api, f"/orgs/{args.org_id}/projects", args, out, what="projects",
                  columns=COLUMNS, row=_row)


def _show(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    _one(api.call("GET", f"/orgs/{args.org_id}/projects/{args.project_id}"), args, out)


def _create(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    _one(api.call("POST", f"/orgs/{args.org_id}/projects", {"name": args.name}), args, out)


def _rename(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    _one(api.call("PATCH", f"/orgs/{args.org_id}/projects/{args.project_id}",
                  {"name": args.name}), args, out)


def _delete(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    body: dict[str, Any] = {"confirm_name": args.confirm}
    if args.grace_seconds is not None:
        body["grace_seconds"] = args.grace_seconds
    started = api.call("POST", f"/orgs/{args.org_id}/projects/{args.project_id}/deletion", body)
    if args.json:
        print_json(started, out)
        return
    print(f"deletion requested: request {started['request_id']}, workflow "
          f"{started['workflow_id']}; watch with: lifecycle projects deletion {args.org_id} "
          f"{args.project_id} --follow", file=out)


def _deletion(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    path = f"/orgs/{args.org_id}/projects/{args.project_id}/deletion"
    status = api.call("GET", path)
    while args.follow and status["status"] not in TERMINAL:
        if not args.json:
            print(progress_line(status), file=out, flush=True)
        time.sleep(args.interval)  # the poll period, not synchronisation
        status = api.call("GET", path)
    if args.json:
        print_json(status, out)
    else:
        print(progress_line(status), file=out)
        if status.get("certificate"):
            print(f"deletion certificate {status['certificate']['id']}", file=out)
    if args.follow and status["status"] != "completed":
        raise CliError(f"deletion {status['status']}"
                       + (f": {status['last_error']}" if status.get("last_error") else ""))


def _cancel(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    decision = api.call("POST",
                        f"/orgs/{args.org_id}/projects/{args.project_id}/deletion/cancel")
    if args.json:
        print_json(decision, out)
    if not decision["accepted"]:
        raise CliError(f"cancel refused: {decision['detail']}")
    if not args.json:
        print(f"cancel accepted: {decision['detail']}", file=out)


COMMANDS = {"list": _list, "show": _show, "create": _create, "rename": _rename,
            "delete": _delete, "deletion": _deletion, "cancel-deletion": _cancel}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    key = api_key(args)

    def work() -> int:
        if getattr(args, "interval", 1.0) <= 0:
            raise CliError("--interval must be positive", 2)
        with connect(args, settings, key,
                     f"no API key: pass --api-key or set {API_KEY_ENV}") as api:
            COMMANDS[args.projects_command](api, args, sys.stdout)
        return 0

    return report(f"lifecycle projects {args.projects_command}", (key,), work)
