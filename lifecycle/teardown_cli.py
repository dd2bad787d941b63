"""`lifecycle teardown plan|start|status|cancel|expedite ORG_ID`: the danger zone from a terminal.

Through the HTTP API (see `lifecycle.api_client` for why, the one-line errors and the exit
codes): one request per command, a poll loop for `--follow`. Exit 0 is "done", and for
`--follow` "the teardown completed"; a followed teardown that ends cancelled or failed exits 1.

The API key comes from `--api-key` or `LIFECYCLE_API_KEY` and is never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TextIO

from core.settings import Settings
from core.text import duration
from lifecycle.api_client import (
    API_KEY_ENV,
    Api,
    CliError,
    add_connection_arguments,
    api_key,
    connect,
    free_text,
    one_line,
    operator_token,
    report,
)
from lifecycle.cli_output import print_json

ACTIONS = ("plan", "start", "status", "cancel", "expedite")
TERMINAL = ("completed", "cancelled", "failed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS,
                        help="plan: what would be deleted and the confirmation phrase; start "
                             "(with --confirm); status: progress, then the certificate; cancel: "
                             "during the grace window; expedite: end the grace window now")
    parser.add_argument("org_id", help="the organization's id")
    add_connection_arguments(parser, api_key=True)
    parser.add_argument("--confirm", type=one_line, metavar="ORG_NAME",
                        help="start: the organization's exact name")
    parser.add_argument("--grace-seconds", type=int,
                        help="start: grace window before deletion (default from the server)")
    parser.add_argument("--reason", default="", type=free_text,
                        help="cancel: recorded with the decision")
    parser.add_argument("--follow", action="store_true",
                        help="start/status: poll until completed, cancelled or failed")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between polls with --follow (default 1; up to 10 in "
                             "grace)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="give up following after this many seconds (default: never)")


class StatusReader:
    """Reads progress with the admin key while it works, then with the operator token.

    The teardown itself revokes the org's keys (step `revoke_api_keys`), so a follower using
    the admin key is locked out before `completed`; the rest of the run is the operator's to
    watch, as the API's own rules say. Only that lock-out (401) switches, and for good: a
    refusal for any other reason (a member's key, another org's id) is the answer to give, not
    a cue to retry with wider rights, and an unreachable API stays an unreachable API.
    """

    def __init__(self, api: Api, operator: str) -> None:
        self._api = api
        self._operator = operator
        self._as_operator = False

    def read(self, org_id: str) -> dict[str, Any]:
        path = f"/orgs/{org_id}/teardown"
        if self._as_operator:
            return self._api.call("GET", path, token=self._operator)
        try:
            return self._api.call("GET", path)
        except CliError as exc:
            if not self._operator or exc.status != HTTPStatus.UNAUTHORIZED:
                raise
            self._as_operator = True
            return self._api.call("GET", path, token=self._operator)


def progress_line(status: dict[str, Any]) -> str:
    """One line per poll: enough to watch, short enough for a log file."""
    parts = [f"[{float(status.get('percent', 0.0)):5.1f}%]", str(status.get("status")),
             f"step={status.get('current_step') or '-'}",
             f"records_purged={status.get('records_purged', 0)}"]
    if status.get("status") == "grace" and status.get("grace_deadline"):
        parts.append(f"grace_until={status['grace_deadline']}")
    if status.get("last_error"):
        parts.append(f"last_error={' '.join(str(status['last_error']).split())}")
    return " ".join(parts)


def _print_plan(plan: dict[str, Any], out: TextIO) -> None:
    print(f"organization {plan['org_id']} ({plan['status']})", file=out)
    for table, count in sorted(plan["counts"].items()):
        print(f"  {table}: {count}", file=out)
    for blocker in plan["blockers"]:
        mark = "BLOCKING" if blocker["blocking"] else "note"
        print(f"  {mark}: {blocker['reason']}", file=out)
    verdict = "blocked" if plan["blocked"] else "can be started"
    print(f"teardown {verdict}; confirm with: --confirm {json.dumps(plan['confirmation_phrase'])}",
          file=out)


GRACE_POLL_S = 10.0  # during grace nothing moves but the clock: poll slowly
BAR_WIDTH = 20


def _seconds_left(status: dict[str, Any]) -> float | None:
    """Seconds until the grace window ends, when the teardown is in grace."""
    if status.get("status") != "grace" or not status.get("grace_deadline"):
        return None
    deadline = datetime.fromisoformat(str(status["grace_deadline"]))
    return max((deadline - datetime.now(UTC)).total_seconds(), 0.0)


def live_line(status: dict[str, Any]) -> str:
    """The one line a terminal shows and rewrites: a bar, the step, and time left in grace."""
    percent = float(status.get("percent", 0.0))
    filled = round(BAR_WIDTH * percent / 100)
    parts = [f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:5.1f}%",
             str(status.get("status")), str(status.get("current_step") or "-"),
             f"records_purged={status.get('records_purged', 0)}"]
    left = _seconds_left(status)
    if left is not None:
        parts.append(f"grace ends in {duration(left)} (cancel or expedite now)")
    return " ".join(parts)


class FollowView:
    """How `--follow` shows progress: one rewritten line on a terminal, else changes only.

    A log file or a pipe gets a line only when something in it changed, so a week of grace
    is one line, not one per poll.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()
        self._last = ""

    def show(self, status: dict[str, Any]) -> None:
        if self._live:
            self._out.write("\r\x1b[K" + live_line(status))
            self._out.flush()
            return
        line = progress_line(status)
        if line != self._last:
            print(line, file=self._out, flush=True)
            self._last = line

    def close(self) -> None:
        if self._live:
            self._out.write("\n")
            self._out.flush()


def _follow(reader: StatusReader, org_id: str, args: argparse.Namespace,
            out: TextIO) -> dict[str, Any]:
    """Poll until a terminal state or `--timeout`; progress as `FollowView` shows it (not in
    --json). In grace the poll slows down, never past the window's end."""
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    view = FollowView(out)
    try:
        while True:
            status = reader.read(org_id)
            if not args.json:
                view.show(status)
            if status["status"] in TERMINAL:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise CliError(f"still {status['status']} after {args.timeout:g}s "
                               f"({status['percent']:.1f}%); the teardown goes on")
            pause = args.interval
            left = _seconds_left(status)
            if left is not None:
                pause = max(args.interval, min(GRACE_POLL_S, left))
            if deadline is not None:
                pause = min(pause, max(deadline - time.monotonic(), 0.0) + 0.01)
            time.sleep(pause)  # the poll period, not synchronisation
    finally:
        if not args.json:
            view.close()


def _ended(status: dict[str, Any], out: TextIO, as_json: bool) -> int:
    if as_json:
        print_json(status, out)
    elif status["status"] == "completed" and status.get("certificate"):
        print(f"teardown completed; deletion certificate {status['certificate']['id']}",
              file=out)
    if status["status"] in ("completed",):
        return 0
    if status["status"] in TERMINAL:
        raise CliError(f"teardown {status['status']}"
                       + (f": {status['last_error']}" if status.get("last_error") else ""))
    return 0


def _execute(api: Api, reader: StatusReader, args: argparse.Namespace, out: TextIO) -> int:
    org = args.org_id
    if args.action == "plan":
        plan = api.call("GET", f"/orgs/{org}/teardown/plan")
        if args.json:
            print_json(plan, out)
        else:
            _print_plan(plan, out)
        return 0
    if args.action == "start":
        body: dict[str, Any] = {"confirm_name": args.confirm}
        if args.grace_seconds is not None:
            body["grace_seconds"] = args.grace_seconds
        started = api.call("POST", f"/orgs/{org}/teardown", body)
        if args.follow:
            if not args.json:
                print(f"teardown started: workflow {started['workflow_id']} "
                      f"run {started['run_id']}", file=out, flush=True)
            return _ended(_follow(reader, org, args, out), out, args.json)
        if args.json:
            print_json(started, out)
        else:
            print(f"teardown started: workflow {started['workflow_id']} run "
                  f"{started['run_id']}; watch with: lifecycle teardown status {org} --follow",
                  file=out)
        return 0
    if args.action == "status":
        if args.follow:
            return _ended(_follow(reader, org, args, out), out, args.json)
        status = reader.read(org)
        if args.json:
            print_json(status, out)
        else:
            print(progress_line(status), file=out)
        return 0
    if args.action == "cancel":
        decision = api.call("POST", f"/orgs/{org}/teardown/cancel", {"reason": args.reason})
    else:
        decision = api.call("POST", f"/orgs/{org}/teardown/expedite")
    if args.json:
        print_json(decision, out)
    if not decision["accepted"]:
        raise CliError(f"{args.action} refused: {decision['detail']}")
    if not args.json:
        print(f"{args.action} accepted: {decision['detail']}", file=out)
    return 0


def _check_usage(args: argparse.Namespace) -> None:
    if args.action == "start" and not args.confirm:
        raise CliError("start needs --confirm \"<organization name>\" (see: teardown plan)", 2)
    if args.confirm and args.action != "start":
        raise CliError("--confirm is only for start", 2)
    if args.follow and args.action not in ("start", "status"):
        raise CliError("--follow is only for start and status", 2)
    if args.interval <= 0:
        raise CliError("--interval must be positive", 2)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    key, operator = api_key(args), operator_token(settings)

    def work() -> int:
        _check_usage(args)
        with connect(args, settings, key,
                     f"no API key: pass --api-key or set {API_KEY_ENV}") as api:
            return _execute(api, StatusReader(api, operator), args, sys.stdout)

    return report(f"lifecycle teardown {args.action}", (key, operator), work)
