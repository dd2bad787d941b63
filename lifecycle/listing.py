"""A cursor-paged listing from a terminal: one page or `--all`, a table or the API's JSON.

Every `list` command (keys, projects, datasets) reads the same way: `--limit`, `--cursor`,
`--all`; a table for people ending with the flag for the next page, the API's document under
`--json` (with `--all`, every page merged into one).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from lifecycle.api_client import Api, Params, collect, positive_int
from lifecycle.cli_output import more_hint, print_json, table


def print_listing(api: Api, path: str, args: argparse.Namespace, out: TextIO, *, what: str,
                  columns: Sequence[str], row: Callable[[dict[str, Any]], Sequence[Any]],
                  filters: Params | None = None) -> None:
    """`filters` go with every page's query (the list's own filters, e.g. an action)."""
    page = collect(api, path, {**(filters or {}), "limit": args.limit}, items="items",
                   token_param="cursor",
                   token_field="next_cursor", start=args.cursor, follow=args.all)
    if args.json:
        print_json(page, out)
        return
    print(table(columns, [row(item) for item in page["items"]]) if page["items"]
          else f"no {what}", file=out)
    hint = more_hint(what, "--cursor", page["next_cursor"])
    if hint:
        print(hint, file=out)


def add_listing_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--limit`, `--cursor` and `--all`, as every `list` command takes them."""
    parser.add_argument("--limit", type=positive_int, default=50,
                        help=f"{what} per page (default 50, at most 200)")
    parser.add_argument("--cursor", default="", help="start after this page cursor")
    parser.add_argument("--all", action="store_true", help="follow every page to the end")
