"""Child processes: a child's output can go to a log file of its own (the benchmarks keep one
per child), stopping a child ends it, and one that dies on its own is reported with the end of
its log."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core import processes
from lifecycle.devstack import ChildExited


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


async def test_a_child_that_dies_is_reported_with_the_end_of_its_log(tmp_path: Path) -> None:
    script = ("import sys\nfor n in range(30): print('line', n)\n"
              "print('port 5 is not available', file=sys.stderr); sys.exit(255)")
    child = await processes.spawn("object store", [sys.executable, "-c", script], os.environ,
                                  output=tmp_path / "store.log")
    assert await child.exited == 255
    tail = child.log_tail(3)
    assert tail == ["line 28", "line 29", "port 5 is not available"]
    message = str(ChildExited(child))
    assert "exited with status 255 unexpectedly" in message
    assert message.endswith("| port 5 is not available")
    assert "line 19" not in message  # the last ten lines only
