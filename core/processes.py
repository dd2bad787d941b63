"""Child processes that cannot outlive the process that started them.

Each child leads its own process group (a new session), for two reasons: a Ctrl-C in the
terminal reaches only the supervisor, which then stops the children in a chosen order instead
of all of them racing; and stopping a child signals its whole group, so anything the child
started itself goes too. On Linux each child also asks the kernel for SIGTERM when the
supervisor dies, which covers the one case no handler can: the supervisor being SIGKILLed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """A started child: `exited` completes with its exit status (negative: killed by signal)."""

    name: str
    process: asyncio.subprocess.Process
    exited: asyncio.Future[int]
    log: Path | None = None  # where its output goes, when not to ours

    def log_tail(self, lines: int = 10) -> list[str]:
        """The last `lines` lines of its log: what to show when it died on its own."""
        if self.log is None or not self.log.exists():
            return []
        with self.log.open("rb") as handle:
            handle.seek(max(0, self.log.stat().st_size - 64 * 1024))
            return handle.read().decode(errors="replace").splitlines()[-lines:]

    @property
    def pid(self) -> int:
        return self.process.pid


def _death_signal_setter() -> Callable[[], None] | None:
    """A pre-exec hook that ties the child's life to ours, or None where prctl does not exist.

    The libc handle is looked up here, before any fork: the hook itself then only makes two
    system calls, which is what is safe between fork and exec in a threaded process.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


async def spawn(name: str, argv: Sequence[str], env: Mapping[str, str],
                output: Path | None = None, *, cwd: Path | None = None) -> Child:
    """Start `argv` in its own session (in `cwd`, when given); stdout and stderr are shared
    with ours, or appended to the file `output` (for a chatty child whose lines would bury
    ours, or a benchmark's child whose log is shown when it fails)."""
    sink = output.open("ab") if output is not None else None
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, env=dict(env), stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_death_signal_setter(), stdout=sink, stderr=sink, cwd=cwd)
    finally:
        if sink is not None:
            sink.close()  # the child holds its own copy of the descriptor
    return Child(name=name, process=process, exited=asyncio.ensure_future(process.wait()),
                 log=output)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is empty
        os.killpg(pgid, sig)


async def stop(child: Child, timeout_s: float) -> bool:
    """SIGTERM the child's group, wait up to `timeout_s`, then SIGKILL it.

    Returns True when the child stopped by itself in time. Whatever is still in the group once
    the leader has exited (a grandchild that ignored SIGTERM) is killed, so nothing survives.
    """
    graceful = True
    if not child.exited.done():
        _signal_group(child.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(child.exited), timeout_s)
        except TimeoutError:
            graceful = False
            _signal_group(child.pid, signal.SIGKILL)
            await child.exited
    _signal_group(child.pid, signal.SIGKILL)
    return graceful
