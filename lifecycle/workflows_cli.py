"""`lifecycle workflows list|show|history`: the operator's read-only view of what runs.

A client of the ops routes (`api/routes/ops.py`), which read Temporal's visibility, describe and
history APIs and summarise them; they are cross-org, so they take the operator token
(`LIFECYCLE_OPERATOR_TOKEN`), never an org's key. Each answer links to the Temporal UI, where
the full history with payloads lives; this view is for finding the workflow and scanning what
happened (which activity, which attempt, what failed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO
from urllib.parse import quote

from temporalio.client import WorkflowExecutionStatus

from contracts.teardown import TEARDOWN_STATUSES
from core.settings import Settings
from lifecycle.api_client import (
    OPERATOR_TOKEN_ENV,
    Api,
    add_connection_arguments,
    collect,
    connect,
    operator_token,
    positive_int,
    report,
)
from lifecycle.cli_output import fields, more_hint, print_json, table, when

STATUSES = tuple(s.name.lower() for s in WorkflowExecutionStatus)  # what the API filters on


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="workflows_command", required=True)
    listing = sub.add_parser("list", help="workflows by type, status and org")
    listing.add_argument("--type", help="workflow type, e.g. OrgTeardownWorkflow")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--org", metavar="ORG_ID", help="the teardown of this org")
    listing.add_argument("--teardown-status", choices=TEARDOWN_STATUSES,
                         help="teardowns in this state (a cancelled teardown's execution "
                              "status is completed)")

    show = sub.add_parser("show", help="one workflow; a running teardown with its progress")
    show.add_argument("workflow_id")
    show.add_argument("--run-id", help="a specific run (default: the latest)")

    history = sub.add_parser("history", help="a workflow's events, summarised")
    history.add_argument("workflow_id")
    history.add_argument("--run-id", help="a specific run (default: the latest)")

    for command, size in ((listing, 50), (history, 100)):
        command.add_argument("--page-size", type=positive_int, default=size,
                             help=f"per request (default {size})")
        command.add_argument("--next-page-token", default="",
                             help="start from this token of a previous page")
        command.add_argument("--all", action="store_true", help="follow every page to the end")
    for command in (listing, show, history):
        add_connection_arguments(command, api_key=False)


def _path(workflow_id: str, tail: str = "") -> str:
    return f"/ops/workflows/{quote(workflow_id, safe='')}{tail}"


def _hint(out: TextIO, what: str, token: str | None) -> None:
    hint = more_hint(what, "--next-page-token", token)
    if hint:
        print(hint, file=out)


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    params: dict[str, str | int] = {"page_size": args.page_size}
    for name, value in (("type", args.type), ("status", args.status), ("org_id", args.org),
                        ("teardown_status", args.teardown_status)):
        if value:
            params[name] = value
    page = collect(api, "/ops/workflows", params, items="items",
                   token_param="next_page_token", token_field="next_page_token",
                   start=args.next_page_token, follow=args.all)
    if args.json:
        print_json(page, out)
        return
    rows = [(w["workflow_id"], w["type"], w["status"], when(w["start_time"]),
             when(w["close_time"])) for w in page["items"]]
    print(table(("WORKFLOW ID", "TYPE", "STATUS", "STARTED", "CLOSED"), rows) if rows
          else "no workflows", file=out)
    _hint(out, "workflows", page["next_page_token"])


def _show(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    params = {"run_id": args.run_id} if args.run_id else None
    detail = api.call("GET", _path(args.workflow_id), params=params)
    if args.json:
        print_json(detail, out)
        return
    progress: dict[str, Any] | None = detail.get("progress")
    pairs: list[tuple[str, Any]] = [
        ("workflow", detail["workflow_id"]), ("run", detail["run_id"]),
        ("type", detail["type"]), ("status", detail["status"]),
        ("started", when(detail["start_time"])), ("closed", when(detail["close_time"])),
        ("task queue", detail["task_queue"]), ("history", f"{detail['history_length']} events"),
        ("temporal ui", detail["ui_url"])]
    if progress is not None:
        pairs.append(("progress", f"{progress['percent']:.1f}% {progress['status']} "
                                  f"step={progress['current_step'] or '-'} "
                                  f"cancellable={'yes' if progress['cancellable'] else 'no'}"))
    print(fields(pairs), file=out)
    if progress is not None and progress["steps"]:
        print(file=out)
        print(table(("STEP", "STATUS", "DONE", "TOTAL", "STARTED", "FINISHED"),
                    [(s["name"], s["status"], s["done"], s["total"], when(s["started_at"]),
                      when(s["finished_at"])) for s in progress["steps"]]), file=out)


def _history(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    params: dict[str, str | int] = {"page_size": args.page_size}
    if args.run_id:
        params["run_id"] = args.run_id
    page = collect(api, _path(args.workflow_id, "/history"), params, items="events",
                   token_param="next_page_token", token_field="next_page_token",
                   start=args.next_page_token, follow=args.all)
    if args.json:
        print_json(page, out)
        return
    print(table(("EVENT", "TIME", "TYPE", "ACTIVITY", "ATTEMPT", "FAILURE"),
                [(e["event_id"], when(e["time"]), e["type"], e["activity"], e["attempt"],
                  e["failure"]) for e in page["events"]]), file=out)
    print(f"temporal ui: {page['ui_url']}", file=out)
    _hint(out, "events", page["next_page_token"])


COMMANDS = {"list": _list, "show": _show, "history": _history}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    token = operator_token(settings)

    def work() -> int:
        with connect(args, settings, token,
                     f"no operator token: set {OPERATOR_TOKEN_ENV}") as api:
            COMMANDS[args.workflows_command](api, args, sys.stdout)
        return 0

    return report(f"lifecycle workflows {args.workflows_command}", (token,), work)
