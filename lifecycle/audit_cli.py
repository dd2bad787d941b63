"""`lifecycle audit list|export`: an org's audit log from a terminal (admin key).

A thin client of the audit routes (`api/routes/audit.py`): `list` reads pages newest first as
a table (or the API's JSON with `--json`), `export` writes the NDJSON export as it streams, to
stdout or `--output`, so a log of millions of events never sits in memory. Both filter by
actor, action and time (`--since` inclusive, `--until` exclusive, ISO 8601 with an offset).
Conventions as `lifecycle projects` (see `lifecycle.api_client`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from core.settings import Settings
from lifecycle.api_client import (
    API_KEY_ENV,
    Api,
    add_connection_arguments,
    api_key,
    connect,
    positive_int,
    report,
)
from lifecycle.cli_output import when
from lifecycle.listing import print_listing

COLUMNS = ("ID", "WHEN", "ACTOR", "ACTION", "TARGET")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("org_id")
    parser.add_argument("--actor", help="only events by this actor, e.g. key:olt_ab12cd34")
    parser.add_argument("--action", help="only events of this action, e.g. quota.set")
    parser.add_argument("--since", help="from this time on, e.g. 2026-11-01T00:00:00Z")
    parser.add_argument("--until", help="before this time, e.g. 2026-12-01T00:00:00Z")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True)
    listing = sub.add_parser("list", help="the org's audit events, newest first")
    _filters(listing)
    listing.add_argument("--limit", type=positive_int, default=50,
                         help="events per page (default 50, at most 200)")
    listing.add_argument("--cursor", default="", help="start after this page cursor")
    listing.add_argument("--all", action="store_true", help="follow every page to the end")
    export = sub.add_parser("export", help="every matching event as NDJSON, streamed")
    _filters(export)
    export.add_argument("--output", type=Path,
                        help="write to this file instead of stdout (replaced if it exists)")
    for command in (listing, export):
        add_connection_arguments(command, api_key=True)


def _query(args: argparse.Namespace) -> dict[str, str | int]:
    return {name: value for name in ("actor", "action", "since", "until")
            if (value := getattr(args, name)) is not None}


def _row(event: dict[str, Any]) -> tuple[Any, ...]:
    return (event["id"], when(event["created_at"]), event["actor"], event["action"],
            event["target"])


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    print_listing(api, f"/orgs/{args.org_id}/audit", args, out, what="events",
                  columns=COLUMNS, row=_row, filters=_query(args))


def _export(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    path = f"/orgs/{args.org_id}/audit/export"
    if args.output is None:
        out.flush()
        api.stream(path, _query(args), sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    partial = args.output.with_name(args.output.name + ".partial")
    try:
        with partial.open("wb") as sink:
            written = api.stream(path, _query(args), sink)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(args.output)  # a failed export never leaves a truncated file behind
    print(f"exported {written} bytes to {args.output}", file=sys.stderr)


COMMANDS = {"list": _list, "export": _export}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    key = api_key(args)

    def work() -> int:
        with connect(args, settings, key,
                     f"no API key: pass --api-key or set {API_KEY_ENV}") as api:
            COMMANDS[args.audit_command](api, args, sys.stdout)
        return 0

    return report(f"lifecycle audit {args.audit_command}", (key,), work)
