"""`lifecycle teardown plan|start|status|cancel|expedite ORG_ID`: the danger zone from a terminal.

Why through the HTTP API and not straight to Temporal: the API is where the admin's key is
checked, the typed-name confirmation and the blockers are enforced and the audit trail is
written; a CLI that started workflows itself would skip all three. So this module is a thin
HTTP client: one request per command (a poll loop for `--follow`), the API's problem body
turned into one line on stderr, and exit codes scripts can branch on:

* 0: done (for `--follow`: the teardown completed),
* 1: the API refused or failed, could not be reached, or a followed teardown ended otherwise,
* 2: usage (no API key, bad arguments).

The API key comes from `--api-key` or `LIFECYCLE_API_KEY` and is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, TextIO

import httpx

from lifecycle.settings import Settings

ACTIONS = ("plan", "start", "status", "cancel", "expedite")
API_KEY_ENV = "LIFECYCLE_API_KEY"
TERMINAL = ("completed", "cancelled", "failed")
REQUEST_TIMEOUT_S = 30.0


class CliError(Exception):
    """One line for stderr and the exit code that goes with it."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("org_id", help="the organization's id")
    parser.add_argument("--api-url", help="default: http://<api_host>:<api_port> from settings")
    parser.add_argument("--api-key", help=f"admin API key; default: ${API_KEY_ENV}")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--confirm", metavar="ORG_NAME",
                        help="start: the organization's exact name")
    parser.add_argument("--grace-seconds", type=int,
                        help="start: grace window before deletion (default from the server)")
    parser.add_argument("--reason", default="", help="cancel: recorded with the decision")
    parser.add_argument("--follow", action="store_true",
                        help="start/status: poll until completed, cancelled or failed")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between polls with --follow (default 1)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="give up following after this many seconds (default: never)")


def default_api_url(settings: Settings) -> str:
    """The API the settings describe; a wildcard bind address is dialled on loopback."""
    host = settings.api_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


def _problem_line(response: httpx.Response) -> str:
    """`title: detail` from an RFC 9457 body, or the status line when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("title") or body.get("detail")):
        title = str(body.get("title") or response.reason_phrase)
        detail = str(body.get("detail") or "")
        text = f"{title}: {detail}" if detail else title
    else:
        text = f"HTTP {response.status_code} {response.reason_phrase}"
    return " ".join(text.split())  # one line, whatever the server put in it


class Api:
    """The few teardown endpoints; every non-2xx answer becomes a `CliError`."""

    def __init__(self, base_url: str, key: str, operator_token: str = "") -> None:
        self._http = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S)
        self._key = key
        self._operator_token = operator_token

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token or self._key}"}
        try:
            response = self._http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the API at {self._http.base_url}: "
                           f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise CliError(_problem_line(response))
        data: dict[str, Any] = response.json()
        return data

    def status(self, org_id: str) -> dict[str, Any]:
        """Progress, read with the admin key while it works, then with the operator token.

        The teardown itself revokes the org's keys (step `revoke_api_keys`), so a follower
        using the admin key is locked out before `completed`; the rest of the run is the
        operator's to watch, as the API's own rules say.
        """
        try:
            return self.call("GET", f"/orgs/{org_id}/teardown")
        except CliError:
            if not self._operator_token:
                raise
            return self.call("GET", f"/orgs/{org_id}/teardown", token=self._operator_token)


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


def _follow(api: Api, org_id: str, args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    """Poll until a terminal state or `--timeout`; one progress line per poll (not in --json)."""
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    while True:
        status = api.status(org_id)
        if not args.json:
            print(progress_line(status), file=out, flush=True)
        if status["status"] in TERMINAL:
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise CliError(f"still {status['status']} after {args.timeout:g}s "
                           f"({status['percent']:.1f}%); the teardown goes on")
        time.sleep(args.interval)  # the poll period, not synchronisation


def _ended(status: dict[str, Any], out: TextIO, as_json: bool) -> int:
    if as_json:
        print(json.dumps(status, indent=2), file=out)
    elif status["status"] == "completed" and status.get("certificate"):
        print(f"teardown completed; deletion certificate {status['certificate']['id']}",
              file=out)
    if status["status"] in ("completed",):
        return 0
    if status["status"] in TERMINAL:
        raise CliError(f"teardown {status['status']}"
                       + (f": {status['last_error']}" if status.get("last_error") else ""))
    return 0


def _execute(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    org = args.org_id
    if args.action == "plan":
        plan = api.call("GET", f"/orgs/{org}/teardown/plan")
        if args.json:
            print(json.dumps(plan, indent=2), file=out)
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
            return _ended(_follow(api, org, args, out), out, args.json)
        if args.json:
            print(json.dumps(started, indent=2), file=out)
        else:
            print(f"teardown started: workflow {started['workflow_id']} run "
                  f"{started['run_id']}; watch with: lifecycle teardown status {org} --follow",
                  file=out)
        return 0
    if args.action == "status":
        if args.follow:
            return _ended(_follow(api, org, args, out), out, args.json)
        status = api.status(org)
        if args.json:
            print(json.dumps(status, indent=2), file=out)
        else:
            print(progress_line(status), file=out)
        return 0
    if args.action == "cancel":
        decision = api.call("POST", f"/orgs/{org}/teardown/cancel", {"reason": args.reason})
    else:
        decision = api.call("POST", f"/orgs/{org}/teardown/expedite")
    if args.json:
        print(json.dumps(decision, indent=2), file=out)
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
    prefix = f"lifecycle teardown {args.action}"
    key = args.api_key or os.environ.get(API_KEY_ENV, "")
    try:
        _check_usage(args)
        if not key:
            raise CliError(f"no API key: pass --api-key or set {API_KEY_ENV}", 2)
        api = Api(args.api_url or default_api_url(settings), key,
                  settings.operator_token.get_secret_value())
        try:
            return _execute(api, args, sys.stdout)
        finally:
            api.close()
    except CliError as exc:
        message = str(exc).replace(key, "***") if key else str(exc)
        print(f"{prefix}: {message}", file=sys.stderr)
        return exc.code
