"""Child processes: a child's output can go to a log file of its own (the benchmarks keep one
per child), and stopping a child ends it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core import processes


async def test_a_childs_output_and_errors_go_to_its_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("earlier run\n")
    script = "import sys; print('out', flush=True); print('err', file=sys.stderr)"
    child = await processes.spawn("echo", [sys.executable, "-c", script], os.environ,
                                  output=log, cwd=tmp_path)
    assert await child.exited == 0
    assert log.read_text().split() == ["earlier", "run", "out", "err"]


async def test_stop_ends_a_child_that_would_run_on(tmp_path: Path) -> None:
    child = await processes.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                                  os.environ, output=tmp_path / "sleeper.log")
    assert await processes.stop(child, timeout_s=10)
    assert child.exited.done() and child.exited.result() != 0
