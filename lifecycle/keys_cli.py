"""`lifecycle keys list|create|extend|roll|delete`: an org's team and project keys from a terminal.

A thin client of the key routes (`api/routes/keys.py`), so the admin-only rule, the frozen-org
refusal, the org's maximum key lifetime and the audit trail all apply as they do in the console.
Team keys belong to the org; `--project` picks a project's keys for `list` and `create`.
`extend` and `delete` take any key of the org by id.

`roll` makes a new key like an old one, whose secret keeps working for `--overlap` (0: stops
now). A secret appears only in the output of `create` or `roll`, with a warning that it will not be
shown again; lists carry only the public prefix. The admin key used to call the API is never
printed (see `lifecycle.api_client.report`).
"""

from __future__ import annotations

import argparse
import sys
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
from lifecycle.cli_output import fields, print_json, table, when
from lifecycle.listing import print_listing

SHOWN_ONCE = ("This secret is shown once and cannot be retrieved again: store it now "
              "(a lost secret means a new key).")
COLUMNS = ("ID", "NAME", "PREFIX", "SCOPE", "PROJECT", "STATUS", "EXPIRES", "LAST USED")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", required=True)
    listing = sub.add_parser("list", help="list an org's keys, or one project's")
    listing.add_argument("org_id")
    listing.add_argument("--project", metavar="PROJECT_ID", help="only this project's keys")
    listing.add_argument("--limit", type=positive_int, default=50,
                         help="keys per page (default 50, at most 200)")
    listing.add_argument("--cursor", default="", help="start after this page cursor")
    listing.add_argument("--all", action="store_true", help="follow every page to the end")

    create = sub.add_parser("create", help="create a key; its secret is shown this once")
    create.add_argument("org_id")
    create.add_argument("--name", required=True, type=one_line, help="what the key is for")
    create.add_argument("--project", metavar="PROJECT_ID",
                        help="make a project key of this project (default: a team key)")
    create.add_argument("--days", type=positive_int,
                        help="lifetime in days (default from the server)")

    extend = sub.add_parser("extend", help="push a key's expiry N days further")
    extend.add_argument("org_id")
    extend.add_argument("key_id")
    extend.add_argument("--days", type=positive_int, required=True)

    roll = sub.add_parser("roll", help="replace a key by a new one (same name, scope, project); "
                          "the old secret keeps working for --overlap")
    roll.add_argument("org_id")
    roll.add_argument("key_id")
    roll.add_argument("--overlap", type=_duration, required=True, metavar="DURATION",
                      help="how long the old secret keeps working: 0, 90s, 30m, 12h or 7d "
                      "(at most 7 days)")

    delete = sub.add_parser("delete", help="delete keys for good (a tombstone remains)")
    delete.add_argument("org_id")
    delete.add_argument("key_ids", nargs="+", metavar="KEY_ID")
    delete.add_argument("--confirm", type=one_line, metavar='"DELETE <n> KEYS"',
                        help="required when deleting more than one key")

    for command in (listing, create, extend, roll, delete):
        add_connection_arguments(command, api_key=True)


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> int:
    """Seconds of `0`, `90`, `90s`, `30m`, `12h` or `7d`."""
    number, unit = (text[:-1], text[-1]) if text and text[-1] in UNITS else (text, "s")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 0, 30m, 12h or 7d")
    return int(number) * UNITS[unit]


def _keys_path(org_id: str, project: str | None) -> str:
    return f"/orgs/{org_id}/projects/{project}/keys" if project else f"/orgs/{org_id}/keys"


def _row(key: dict[str, Any]) -> tuple[Any, ...]:
    return (key["id"], key["name"], key["prefix"], key["scope"], key["project_id"],
            key["status"], when(key["expires_at"]), when(key["last_used_at"]))


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    print_listing(api, _keys_path(args.org_id, args.project), args, out, what="keys",
                  columns=COLUMNS, row=_row)


def _create(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    body: dict[str, Any] = {"name": args.name}
    if args.days is not None:
        body["expires_in_days"] = args.days
    made = api.call("POST", _keys_path(args.org_id, args.project), body)
    if args.json:
        print_json(made, out)
        print(SHOWN_ONCE, file=sys.stderr)  # stdout stays one JSON document
        return
    key = made["key"]
    print(f"created {key['scope']} key {key['name']!r}", file=out)
    print(fields([("id", key["id"]), ("prefix", key["prefix"]),
                  ("project", key["project_id"]), ("expires", when(key["expires_at"])),
                  ("secret", made["secret"])]), file=out)
    print(SHOWN_ONCE, file=out)


def _extend(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    key = api.call("POST", f"/orgs/{args.org_id}/keys/{args.key_id}/extend",
                   {"days": args.days})
    if args.json:
        print_json(key, out)
    else:
        print(f"key {key['id']} ({key['prefix']}) now expires {when(key['expires_at'])}",
              file=out)


def _roll(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    made = api.call("POST", f"/orgs/{args.org_id}/keys/{args.key_id}/roll",
                    {"overlap_seconds": args.overlap})
    if args.json:
        print_json(made, out)
        print(SHOWN_ONCE, file=sys.stderr)
        return
    key, old = made["key"], made["old_key"]
    print(f"rolled {key['scope']} key {key['name']!r}", file=out)
    print(fields([("id", key["id"]), ("prefix", key["prefix"]),
                  ("expires", when(key["expires_at"])), ("secret", made["secret"]),
                  ("old key", f"{old['id']} ({old['prefix']})"),
                  ("old works until", when(old["expires_at"]))]), file=out)
    print(SHOWN_ONCE, file=out)


def _delete(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    ids = list(dict.fromkeys(args.key_ids))
    if len(ids) == 1:
        gone = [api.call("DELETE", f"/orgs/{args.org_id}/keys/{ids[0]}")]
        result: dict[str, Any] = {"deleted": 1, "tombstones": gone}
    else:  # all or nothing, in one request: a typo in one id deletes none
        result = api.call("POST", f"/orgs/{args.org_id}/keys/bulk-delete",
                          {"ids": ids, "confirm": args.confirm})
    if args.json:
        print_json(result if len(ids) > 1 else result["tombstones"][0], out)
        return
    print(f"deleted {result['deleted']} key{'s' if result['deleted'] != 1 else ''}", file=out)
    print(table(("ID", "NAME", "PREFIX", "SCOPE", "DELETED"),
                [(t["key_id"], t["name"], t["prefix"], t["scope"], when(t["deleted_at"]))
                 for t in result["tombstones"]]), file=out)


def _check_usage(args: argparse.Namespace) -> None:
    if args.keys_command != "delete":
        return
    count = len(set(args.key_ids))
    expected = f"DELETE {count} KEYS"
    if count > 1 and args.confirm != expected:
        raise CliError(f'deleting {count} keys needs --confirm "{expected}"', 2)
    if count == 1 and args.confirm:
        raise CliError("--confirm is only for deleting more than one key", 2)


COMMANDS = {"list": _list, "create": _create, "extend": _extend, "roll": _roll,
            "delete": _delete}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    key = api_key(args)

    def work() -> int:
        _check_usage(args)
        with connect(args, settings, key,
                     f"no API key: pass --api-key or set {API_KEY_ENV}") as api:
            COMMANDS[args.keys_command](api, args, sys.stdout)
        return 0

    return report(f"lifecycle keys {args.keys_command}", (key,), work)
