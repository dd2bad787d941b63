"""`lifecycle datasets list|create|delete|append|records|upload|files|download`: a project's
datasets from a terminal.

A thin client of the dataset routes (`api/routes/datasets.py`). `append` uploads a file of
records (NDJSON, one JSON object per line, or a JSON array of objects; `-` reads stdin) in one
request, which the API checks whole: one bad record and nothing is written, and the error
names every failing record by its line. `records` pages through what is stored. `upload`,
`files` and `download` put, list and fetch a dataset's files (the object store's; the body is
sent as read, with `--content-type`, and downloads stream to a file or stdout). Works with the
org admin's team key or the project's own key. Conventions as `lifecycle keys`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from core.settings import Settings
from lifecycle.api_client import (
    API_KEY_ENV,
    Api,
    CliError,
    add_connection_arguments,
    api_key,
    collect,
    connect,
    one_line,
    positive_int,
    report,
)
from lifecycle.cli_output import fields, more_hint, print_json, when
from lifecycle.listing import print_listing

MEDIA = {"ndjson": "application/x-ndjson", "json": "application/json"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="datasets_command", required=True)
    listing = sub.add_parser("list", help="list a project's datasets")
    create = sub.add_parser("create", help="create an empty dataset")
    delete = sub.add_parser("delete", help="delete a dataset, its records and its files")
    append = sub.add_parser("append", help="upload records (all or nothing)")
    records = sub.add_parser("records", help="read a dataset's records, a page at a time")
    upload = sub.add_parser("upload", help="upload a file into a dataset")
    files = sub.add_parser("files", help="list a dataset's files, a page at a time")
    download = sub.add_parser("download", help="download a dataset's file")
    everything = (listing, create, delete, append, records, upload, files, download)
    for command in everything:
        command.add_argument("org_id")
        command.add_argument("project_id")
    create.add_argument("--name", required=True, type=one_line)
    for command in (delete, append, records, upload, files, download):
        command.add_argument("dataset_id")
    upload.add_argument("file", help="the file to send; - for stdin (then --name)")
    upload.add_argument("--name", type=one_line, help="its name in the dataset "
                        "(default: the file's own name)")
    upload.add_argument("--content-type", default="application/octet-stream", type=one_line)
    download.add_argument("name", type=one_line)
    download.add_argument("--output", "-o", default="-", help="where to write it (- stdout)")
    append.add_argument("file", help="NDJSON or a JSON array; - for stdin")
    append.add_argument("--format", choices=sorted(MEDIA), default=None,
                        help="default: json for a .json file or a body starting with '[', "
                             "else ndjson")
    for command, default in ((listing, 50), (records, 100), (files, 100)):
        command.add_argument("--limit", type=positive_int, default=default,
                             help=f"items per page (default {default}, at most 200)")
        command.add_argument("--cursor", default="", help="start after this page cursor")
        command.add_argument("--all", action="store_true", help="follow every page")
    for command in everything:
        add_connection_arguments(command, api_key=True)


def _base(args: argparse.Namespace) -> str:
    return f"/orgs/{args.org_id}/projects/{args.project_id}/datasets"


def _list(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    print_listing(api, _base(args), args, out, what="datasets",
                  columns=("ID", "NAME", "RECORDS", "CREATED"),
                  row=lambda d: (d["id"], d["name"], d["records"], when(d["created_at"])))


def _create(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    made = api.call("POST", _base(args), {"name": args.name})
    if args.json:
        print_json(made, out)
        return
    print(fields([("id", made["id"]), ("name", made["name"]), ("records", made["records"])]),
          file=out)


def _delete(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    gone = api.call("DELETE", f"{_base(args)}/{args.dataset_id}")
    if args.json:
        print_json(gone, out)
        return
    print(f"deleted dataset {gone['id']} with {gone['records_deleted']} records and its files",
          file=out)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", 2) from None


def _format(args: argparse.Namespace, content: bytes) -> str:
    if args.format:
        return MEDIA[args.format]
    if args.file.endswith(".json") or content.lstrip()[:1] == b"[":
        return MEDIA["json"]
    return MEDIA["ndjson"]


def _append(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    content = _read(args.file)
    done = api.call("POST", f"{_base(args)}/{args.dataset_id}/records", content=content,
                    content_type=_format(args, content))
    if args.json:
        print_json(done, out)
        return
    print(f"appended {done['appended']} records; the dataset holds {done['records']}",
          file=out)


def _records(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    page = collect(api, f"{_base(args)}/{args.dataset_id}/records", {"limit": args.limit},
                   items="items", token_param="cursor", token_field="next_cursor",
                   start=args.cursor, follow=args.all)
    if args.json:
        print_json(page, out)
        return
    for item in page["items"]:  # NDJSON, so the output can be appended elsewhere as is
        print(json.dumps(item["data"], separators=(",", ":")), file=out)
    hint = more_hint("records", "--cursor", page["next_cursor"])
    if hint:
        print(hint, file=sys.stderr)


def _upload(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    name = args.name or (Path(args.file).name if args.file != "-" else "")
    if not name:
        raise CliError("reading stdin: name the file with --name", 2)
    made = api.call("PUT", f"{_base(args)}/{args.dataset_id}/files/{name}",
                    content=_read(args.file), content_type=args.content_type)
    if args.json:
        print_json(made, out)
        return
    print(f"uploaded {made['name']} ({made['size']} bytes, {made['content_type']})", file=out)


def _files(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    print_listing(api, f"{_base(args)}/{args.dataset_id}/files", args, out, what="files",
                  columns=("NAME", "BYTES", "MODIFIED"),
                  row=lambda f: (f["name"], f["size"], when(f["modified"])))


def _download(api: Api, args: argparse.Namespace, out: TextIO) -> None:
    path = f"{_base(args)}/{args.dataset_id}/files/{args.name}"
    if args.output == "-":
        api.stream(path, {}, sys.stdout.buffer)
        return
    with Path(args.output).open("wb") as sink:
        written = api.stream(path, {}, sink)
    print(f"wrote {written} bytes to {args.output}", file=out)


COMMANDS = {"list": _list, "create": _create, "delete": _delete, "append": _append,
            "records": _records, "upload": _upload, "files": _files, "download": _download}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point from `lifecycle.cli`; the return value is the process exit code."""
    key = api_key(args)

    def work() -> int:
        with connect(args, settings, key,
                     f"no API key: pass --api-key or set {API_KEY_ENV}") as api:
            COMMANDS[args.datasets_command](api, args, sys.stdout)
        return 0

    return report(f"lifecycle datasets {args.datasets_command}", (key,), work)
