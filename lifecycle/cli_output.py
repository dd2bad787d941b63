"""How the API-backed commands print: aligned tables for people, the API's JSON for scripts.

One place so that every command's human output looks alike (same column spacing, same time
format, same "-" for nothing) and `--json` is always the API's own document, untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

GAP = "  "
NOTHING = "-"


def cell(value: Any) -> str:
    """A value as one table cell: nothing as "-", whitespace folded so a row stays one line."""
    if value is None or value == "":
        return NOTHING
    return " ".join(str(value).split())


def when(value: Any) -> str:
    """An API timestamp as `YYYY-MM-DD HH:MM:SSZ` in UTC: sortable, aligned, no microseconds."""
    if not value:
        return NOTHING
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return cell(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns as wide as their widest cell; the last column is not padded."""
    lines = [[cell(h) for h in headers], *([cell(v) for v in row] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        GAP.join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in lines)


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`label  value` lines with the values aligned, for one record."""
    width = max((len(label) for label, _ in pairs), default=0)
    return "\n".join(f"{label.ljust(width)}{GAP}{cell(value)}" for label, value in pairs)


def print_json(data: Any, out: TextIO) -> None:
    print(json.dumps(data, indent=2), file=out)


def more_hint(what: str, flag: str, token: str | None) -> str | None:
    """The line telling a person how to get the next page, or None at the end."""
    if not token:
        return None
    return f"more {what}: {flag} {token} (or --all)"
