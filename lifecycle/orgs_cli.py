"""`lifecycle orgs create|list|show`: creating orgs and the operators' directory from a terminal.

A thin client of `POST /orgs`, `GET /ops/orgs` and `GET /orgs/{id}`, so the sign-up rule
(`LIFECYCLE_ORG_SIGNUP`), its rate limit and the audit trail apply as over HTTP. `create` and
`list` use the operator token (`LIFECYCLE_OPERATOR_TOKEN`, or the one `lifecycle dev` made);
with open sign-up `create` works without one. The admin's first key is printed once, by
`create`, with a warning that it will not be shown again.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from core.settings import Settings
from lifecycle.api_client import (
    API_KEY_ENV,
    Api,
    add_connection_arguments,
    api_key,
    connect,
    default_api_url,
    operator_token,
    report,
)
from lifecycle.cli_output import fields, print_json, when
from lifecycle.keys_cli import SHOWN_ONCE
from lifecycle.listing import add_listing_arguments, print_listing

COLUMNS = ("ID", "NAME", "STATUS", "MEMBERS", "CREATED")
ANONYMOUS = "anonymous"  # open sign-up: any bearer that is not the operator's is a stranger


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="orgs_command", required=True)
    create = sub.add_parser("create", help="create an org, its admin and the admin's first key")
    create.add_argument("--name", required=True)
    create.add_argument("--admin-email", required=True, help="the admin account: fixed")
    create.add_argument("--admin-name", default="")
    create.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    add_connection_arguments(create, api_key=False)

    listing = sub.add_parser("list", help="operator: every org, by name and status")
    listing.add_argument("--q", default="", help="part of the name, any case")
    listing.add_argument("--status", choices=("active", "frozen", "deleting"))
    add_listing_arguments(listing, "orgs")
    add_connection_arguments(listing, api_key=False)

    show = sub.add_parser("show", help="one org's basic information and admin account")
    show.add_argument("org_id")
    add_connection_arguments(show, api_key=True)


def _create(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    made = api.call("POST", "/orgs", {"name": args.name, "admin_email": args.admin_email,
                                      "admin_name": args.admin_name,
                                      "timezone": args.timezone})
    if args.json:
        print_json(made, out)
        print(SHOWN_ONCE, file=sys.stderr)
        return
    org, admin, key = made["org"], made["admin"], made["key"]
    print(f"created org {org['name']!r}", file=out)
    print(fields([("id", org["id"]), ("admin", f"{admin['email']} ({admin['id']})"),
                  ("admin key", key["key"]["prefix"]),
                  ("expires", when(key["key"]["expires_at"])), ("secret", key["secret"])]),
          file=out)
    print(SHOWN_ONCE, file=out)


def _row(org: dict[str, Any]) -> tuple[Any, ...]:
    return (org["id"], org["name"], org["status"], org["members"], when(org["created_at"]))


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    params = {k: v for k, v in (("q", args.q), ("status", args.status)) if v}
    print_listing(api, "/ops/orgs", args, out, what="orgs", columns=COLUMNS, row=_row,
                  filters=params)


def _show(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    org = api.call("GET", f"/orgs/{args.org_id}")
    if args.json:
        print_json(org, out)
        return
    admin = org.get("admin") or {}
    print(fields([("id", org["id"]), ("name", org["name"]), ("status", org["status"]),
                  ("admin", f"{admin.get('email')} ({admin.get('member_id')})"),
                  ("time zone", org["timezone"]), ("created", when(org["created_at"]))]),
          file=out)


COMMANDS = {"create": _create, "list": _list, "show": _show}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    key, operator = api_key(args), operator_token(settings)

    def work() -> int:
        if args.orgs_command == "show":
            api = connect(args, settings, key, f"no API key: pass --api-key or set {API_KEY_ENV}")
        elif args.orgs_command == "list":
            api = connect(args, settings, operator, "no operator token: set "
                          "LIFECYCLE_OPERATOR_TOKEN (or run `lifecycle dev`)")
        else:
            api = Api(args.api_url or default_api_url(settings), operator or ANONYMOUS)
        with api:
            COMMANDS[args.orgs_command](api, args, sys.stdout)
        return 0

    return report(f"lifecycle orgs {args.orgs_command}", (key, operator), work)
