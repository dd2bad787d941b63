"""`lifecycle members ...`: an org's members and invitations from a terminal.

A thin client of the member routes (`api/routes/members.py`), so the admin-only rule, the
admin account that never changes, the frozen-org refusal and the audit trail apply as in the
console. `remove` asks for the removal (the member's keys stop at once) and, with `--wait`,
follows the offboarding until it ends. `accept` needs no key: the mailed token is the
credential, and the new member's first key is printed once.
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
    default_api_url,
    one_line,
    report,
)
from lifecycle.cli_output import fields, print_json, table, when
from lifecycle.keys_cli import SHOWN_ONCE
from lifecycle.listing import add_listing_arguments, print_listing

MEMBER_COLUMNS = ("ID", "EMAIL", "NAME", "ROLE", "STATUS", "JOINED")
INVITATION_COLUMNS = ("ID", "EMAIL", "ROLE", "STATUS", "SENDS", "EXPIRES")
WAIT_POLL_S = 0.5
WAIT_DEADLINE_S = 300.0
NO_KEY = "anonymous"  # accept: the token in the body is the credential


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="members_command", required=True)
    listing = sub.add_parser("list", help="the org's members")
    listing.add_argument("org_id")
    add_listing_arguments(listing, "members")

    invite = sub.add_parser("invite", help="mail an invitation (a single-use link)")
    invite.add_argument("org_id")
    invite.add_argument("email", type=one_line)
    invite.add_argument("--role", choices=("member", "admin"), default="member")

    invitations = sub.add_parser("invitations", help="the org's invitations")
    invitations.add_argument("org_id")
    add_listing_arguments(invitations, "invitations")

    resend = sub.add_parser("resend", help="send an invitation again (the old link stops)")
    resend.add_argument("org_id")
    resend.add_argument("invitation_id")

    revoke = sub.add_parser("revoke", help="revoke an open invitation")
    revoke.add_argument("org_id")
    revoke.add_argument("invitation_id")

    accept = sub.add_parser("accept", help="accept an invitation with the mailed token")
    accept.add_argument("org_id")
    accept.add_argument("--token", required=True)
    accept.add_argument("--name", default="", type=one_line)

    role = sub.add_parser("role", help="change a member's role (never the admin account's)")
    role.add_argument("org_id")
    role.add_argument("member_id")
    role.add_argument("role", choices=("member", "admin"))

    remove = sub.add_parser("remove", help="remove a member: their keys stop at once")
    remove.add_argument("org_id")
    remove.add_argument("member_id")
    remove.add_argument("--wait", action="store_true", help="follow the offboarding to its end")

    removal = sub.add_parser("removal", help="the progress of a member's offboarding")
    removal.add_argument("org_id")
    removal.add_argument("member_id")

    for command in (listing, invite, invitations, resend, revoke, role, remove, removal):
        add_connection_arguments(command, api_key=True)
    add_connection_arguments(accept, api_key=False)


def _member_row(m: dict[str, Any]) -> tuple[Any, ...]:
    role = m["role"] + (" (admin account)" if m["is_admin_account"] else "")
    return (m["id"], m["email"], m["name"], role, m["status"], when(m["created_at"]))


def _invitation_row(i: dict[str, Any]) -> tuple[Any, ...]:
    return (i["id"], i["email"], i["role"], i["status"], i["sends"], when(i["expires_at"]))


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    print_listing(api, f"/orgs/{args.org_id}/members", args, out, what="members",
                  columns=MEMBER_COLUMNS, row=_member_row)


def _invitations(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    print_listing(api, f"/orgs/{args.org_id}/invitations", args, out, what="invitations",
                  columns=INVITATION_COLUMNS, row=_invitation_row)


def _print_invitation(invitation: dict[str, Any], args: argparse.Namespace, out: TextIO,
                      verb: str) -> None:
    if args.json:
        print_json(invitation, out)
        return
    print(f"invitation {invitation['id']} {verb}: {invitation['email']} as "
          f"{invitation['role']}, {invitation['status']} until "
          f"{when(invitation['expires_at'])}", file=out)


def _invite(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    made = api.call("POST", f"/orgs/{args.org_id}/invitations",
                    {"email": args.email, "role": args.role})
    _print_invitation(made, args, out, "mailed")


def _resend(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    made = api.call("POST", f"/orgs/{args.org_id}/invitations/{args.invitation_id}/resend")
    _print_invitation(made, args, out, "mailed again")


def _revoke(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    made = api.call("DELETE", f"/orgs/{args.org_id}/invitations/{args.invitation_id}")
    _print_invitation(made, args, out, "revoked")


def _accept(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    joined = api.call("POST", f"/orgs/{args.org_id}/invitations/accept",
                      {"token": args.token, "name": args.name})
    if args.json:
        print_json(joined, out)
        print(SHOWN_ONCE, file=sys.stderr)
        return
    member, key = joined["member"], joined["key"]
    print(f"joined as {member['email']} ({member['role']})", file=out)
    print(fields([("member", member["id"]), ("key", key["key"]["prefix"]),
                  ("expires", when(key["key"]["expires_at"])), ("secret", key["secret"])]),
          file=out)
    print(SHOWN_ONCE, file=out)


def _role(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    member = api.call("PATCH", f"/orgs/{args.org_id}/members/{args.member_id}",
                      {"role": args.role})
    if args.json:
        print_json(member, out)
    else:
        print(f"member {member['id']} is now {member['role']}", file=out)


def _print_removal(removal: dict[str, Any], args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        print_json(removal, out)
        return
    print(f"removal of {removal['member_id']}: {removal['status']}"
          + (f" ({removal['detail']})" if removal["detail"] else ""), file=out)
    print(table(("STEP", "STATUS", "COUNT"),
                [(s["name"], s["status"], s["count"]) for s in removal["steps"]]), file=out)


def _remove(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    path = f"/orgs/{args.org_id}/members/{args.member_id}"
    removal = api.call("DELETE", path)
    deadline = time.monotonic() + WAIT_DEADLINE_S
    while args.wait and removal["status"] in ("pending", "running"):
        if time.monotonic() > deadline:
            raise CliError(f"the offboarding did not end within {int(WAIT_DEADLINE_S)} s; "
                           f"see `lifecycle members removal {args.org_id} {args.member_id}`")
        time.sleep(WAIT_POLL_S)
        removal = api.call("GET", path + "/removal")
    _print_removal(removal, args, out)
    if removal["status"] == "failed":
        raise CliError("the offboarding failed: ask again to resume it")


def _removal(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    _print_removal(api.call("GET", f"/orgs/{args.org_id}/members/{args.member_id}/removal"),
                   args, out)


COMMANDS = {"list": _list, "invite": _invite, "invitations": _invitations, "resend": _resend,
            "revoke": _revoke, "accept": _accept, "role": _role, "remove": _remove,
            "removal": _removal}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    key = api_key(args)
    token = getattr(args, "token", "") or ""

    def work() -> int:
        if args.members_command == "accept":
            api = Api(args.api_url or default_api_url(settings), NO_KEY)
        else:
            api = connect(args, settings, key, f"no API key: pass --api-key or set {API_KEY_ENV}")
        with api:
            COMMANDS[args.members_command](api, args, sys.stdout)
        return 0

    return report(f"lifecycle members {args.members_command}", (key, token), work)
