"""How `teardown --follow` shows progress on a terminal and off one."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from lifecycle.teardown_cli import FollowView, live_line


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _status(status: str, percent: float, step: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "percent": percent, "current_step": step, "records_purged": 0,
            **extra}


def test_off_a_terminal_only_changes_are_printed() -> None:
    out = io.StringIO()
    view = FollowView(out)
    grace = _status("grace", 8.3, "grace", grace_deadline="2030-01-01T00:00:00+00:00")
    for _ in range(50):  # fifty polls of an unchanging grace window
        view.show(grace)
    view.show(_status("running", 40.0, "purge_projects"))
    view.show(_status("running", 40.0, "purge_projects"))
    view.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("[  8.3%] grace") and "grace_until=2030" in lines[0]
    assert lines[1].startswith("[ 40.0%] running step=purge_projects")


def test_on_a_terminal_one_line_is_rewritten_with_time_left_in_grace() -> None:
    out = Terminal()
    view = FollowView(out)
    deadline = (datetime.now(UTC) + timedelta(days=6, hours=23, minutes=30)).isoformat()
    view.show(_status("grace", 8.3, "grace", grace_deadline=deadline))
    view.show(_status("running", 50.0, "purge_projects"))
    view.close()
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "grace ends in 6d 23h" in text
    assert "[##########..........]  50.0% running purge_projects" in text


def test_the_bar_is_full_at_completion() -> None:
    line = live_line(_status("completed", 100.0, "certificate"))
    assert line.startswith("[" + "#" * 20 + "] 100.0% completed")
