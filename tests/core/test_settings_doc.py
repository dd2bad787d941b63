"""The settings table in docs/settings.md lists every setting of `Settings`, each once.

A setting added to the class without a row (or a row left behind by a removed setting) is how
operators end up guessing names; this keeps the page and the class the same list.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from core.settings import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
ROW = re.compile(r"^\|\s*`(LIFECYCLE_[A-Z0-9_]+)`\s*\|")


def documented(text: str) -> Counter[str]:
    """The variable named in the first cell of each table row."""
    return Counter(m.group(1) for line in text.splitlines() if (m := ROW.match(line)))


def env_names() -> set[str]:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def test_every_setting_has_exactly_one_row() -> None:
    rows = documented(PAGE.read_text(encoding="utf-8"))
    names = env_names()
    assert sorted(names - set(rows)) == [], "settings missing from docs/settings.md"
    assert sorted(set(rows) - names) == [], "rows in docs/settings.md that name no setting"
    assert sorted(n for n, c in rows.items() if c > 1) == [], "settings listed twice"


def test_the_parser_sees_rows_and_only_rows() -> None:
    """The check above can fail: a missing, an extra and a doubled row are all noticed."""
    table = ("| variable | default | meaning |\n|---|---|---|\n"
             "| `LIFECYCLE_TASK_QUEUE` | `org-lifecycle` | queue |\n"
             "| `LIFECYCLE_TASK_QUEUE` | again | twice |\n"
             "| `LIFECYCLE_NOT_A_SETTING` | - | extra |\n"
             "Prose naming `LIFECYCLE_API_PORT` is not a row.\n")
    rows = documented(table)
    assert rows == Counter({"LIFECYCLE_TASK_QUEUE": 2, "LIFECYCLE_NOT_A_SETTING": 1})
    assert "LIFECYCLE_API_PORT" in env_names() - set(rows)
    assert "LIFECYCLE_NOT_A_SETTING" not in env_names()
