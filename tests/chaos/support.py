"""Fault injection helpers: real processes started, killed and restarted by the tests.

`LIFECYCLE_CHAOS_SCALE` multiplies the counts: CI runs the reduced default (1); the full runs in
docs/reliability.md name the scale they used.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.binaries import temporal_cli
from core.ports import free_port

SCALE = max(1, int(os.environ.get("LIFECYCLE_CHAOS_SCALE", "1")))


def _start(argv: list[str], env: dict[str, str] | None = None,
           log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group; its output is appended to `log` or dropped."""
    if log is None:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
    process.wait(timeout=30)


@dataclass
class DevServer:
    """A Temporal dev server with a persistent SQLite file, so it can be restarted mid-work."""

    db_file: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = _start([temporal_cli(), "server", "start-dev", "--headless",
                               "--db-filename", str(self.db_file), "--port", str(self.port),
                               "--ip", "127.0.0.1", "--log-level", "error"])

    def stop(self) -> None:
        if self.process is not None:
            _kill_group(self.process, signal.SIGTERM)


@dataclass
class WorkerProcess:
    """`lifecycle worker` in a child process: killed with SIGKILL, replaced by a new one."""

    database_url: str
    temporal_address: str
    task_queue: str
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    log_path: Path | None = None  # where its stdout and stderr go (a test scanning its logs)
    env: dict[str, str] = field(default_factory=dict)  # more LIFECYCLE_* settings

    def start(self) -> None:
        env = dict(os.environ, LIFECYCLE_DATABASE_URL=self.database_url,
                   LIFECYCLE_TEMPORAL_ADDRESS=self.temporal_address,
                   LIFECYCLE_TASK_QUEUE=self.task_queue, LIFECYCLE_DATA_DIR=str(self.data_dir),
                   **self.env)
        self.process = _start([sys.executable, "-m", "lifecycle.cli", "worker"], env,
                              self.log_path)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no last heartbeat, no completed activity reported."""
        if self.process is not None:
            _kill_group(self.process, signal.SIGKILL)
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            _kill_group(self.process, signal.SIGTERM)


@dataclass
class ApiProcess:
    """The API in its own uvicorn process (a replica), as production runs it: SIGKILLed,
    SIGTERMed (uvicorn then stops accepting and finishes what is in flight) or replaced."""

    database_url: str
    temporal_address: str
    task_queue: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # more LIFECYCLE_* settings
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    log_level: str = "warning"  # uvicorn's; "info" shows its start-up and shutdown steps
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ, LIFECYCLE_DATABASE_URL=self.database_url,
                   LIFECYCLE_TEMPORAL_ADDRESS=self.temporal_address,
                   LIFECYCLE_TASK_QUEUE=self.task_queue, LIFECYCLE_DATA_DIR=str(self.data_dir),
                   **self.env)
        self.process = _start([sys.executable, "-m", "uvicorn", "api.app:create_app",
                               "--factory", "--host", "127.0.0.1", "--port", str(self.port),
                               "--log-level", self.log_level], env, self.log_path)

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the replica's process group without waiting for it to end."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        if self.process is not None:
            _kill_group(self.process, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None:
            _kill_group(self.process, signal.SIGTERM)
