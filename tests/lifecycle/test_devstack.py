"""`lifecycle dev` as a developer runs it: a real process tree, real ports, real signals.

Every process the stack starts inherits a marker variable from the test, so "nothing left
behind" is checked by scanning /proc for that marker, which also catches grandchildren and
anything that escaped into another session or process group.
"""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.ports import free_port
from core.seaweed import s3_answers
from core.signing import Signer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
READY_DEADLINE_S = 90.0
EXIT_DEADLINE_S = 45.0
POLL_S = 0.1
MARKER_VAR = "LIFECYCLE_TEST_PROCESS_MARKER"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (tells a live process from a reused pid), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited, waiting to be reaped: no longer running
        return None
    return fields[19]


def _children(pid: int) -> list[int]:
    pids: list[int] = []
    for children_file in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids += [int(child) for child in children_file.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def _descendants(pid: int) -> dict[int, str]:
    """Every live descendant of `pid`, mapped to its start time."""
    found: dict[int, str] = {}
    queue = _children(pid)
    while queue:
        child = queue.pop()
        started = _start_time(child)
        if started is not None and child not in found:
            found[child] = started
            queue += _children(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries `marker`."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if needle in environ.split(b"\0") and _start_time(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    log: Path
    marker: str
    api_url: str
    temporal_address: str
    ui_port: int
    data_dir: Path
    s3_endpoint: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> dict[str, object]:
        """Poll /readyz until both checks pass; fail early if the stack exits."""
        give_up_at = time.monotonic() + READY_DEADLINE_S
        last = "no answer yet"
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < give_up_at:
                if self.process.poll() is not None:
                    pytest.fail(f"lifecycle dev exited with {self.process.returncode} before "
                                f"ready:\n{self.output()}")
                try:
                    response = client.get(f"{self.api_url}/readyz")
                    last = f"{response.status_code} {response.text}"
                    if response.status_code == 200:
                        body: dict[str, object] = response.json()
                        return body
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(POLL_S)
        pytest.fail(f"not ready within {READY_DEADLINE_S}s (last: {last}):\n{self.output()}")

    def wait_banner(self) -> None:
        """Wait until the banner says ready; fail early if the stack exits."""
        give_up_at = time.monotonic() + READY_DEADLINE_S
        while "lifecycle dev: ready after" not in self.output():
            if self.process.poll() is not None or time.monotonic() > give_up_at:
                pytest.fail(f"no ready banner:\n{self.output()}")
            time.sleep(POLL_S)

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"lifecycle dev still running {EXIT_DEADLINE_S}s after the signal:\n"
                        f"{self.output()}")


@pytest.fixture
def dev_run(tmp_path: Path) -> Iterator[DevRun]:
    api_port, temporal_port, ui_port, s3_port = free_port(), free_port(), free_port(), free_port()
    marker = uuid.uuid4().hex
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("LIFECYCLE_")}
    env.update({
        "LIFECYCLE_DATA_DIR": str(tmp_path / "data"),
        "LIFECYCLE_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'lifecycle.db'}",
        MARKER_VAR: marker,
    })
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lifecycle.cli", "dev", "--api-port", str(api_port),
             "--temporal-port", str(temporal_port), "--ui-port", str(ui_port),
             "--s3-port", str(s3_port)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    run = DevRun(process, log, marker, f"http://127.0.0.1:{api_port}",
                 f"127.0.0.1:{temporal_port}", ui_port, tmp_path / "data",
                 f"http://127.0.0.1:{s3_port}")
    yield run
    # A failed test must not leak its stack into the next one.
    if process.poll() is None:
        process.kill()
        process.wait()
    for pid in _marked_processes(marker):
        os.kill(pid, signal.SIGKILL)


async def _worker_pollers(address: str, task_queue: str) -> int:
    client = await Client.connect(address)
    response = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace="default", task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return len(response.pollers)


def _wait_for_worker_poller(run: DevRun) -> None:
    give_up_at = time.monotonic() + READY_DEADLINE_S
    while asyncio.run(_worker_pollers(run.temporal_address, "org-lifecycle")) == 0:
        if time.monotonic() > give_up_at:
            pytest.fail(f"the worker never polled its task queue:\n{run.output()}")
        time.sleep(POLL_S)


def test_dev_serves_and_stops_everything_on_sigint(dev_run: DevRun) -> None:
    body = dev_run.wait_ready()
    assert body == {"status": "ready",
                    "checks": {"database": {"ok": True}, "temporal": {"ok": True}}}
    _wait_for_worker_poller(dev_run)

    tree = _descendants(dev_run.process.pid)
    commands = [_cmdline(pid) for pid in tree]
    assert any("temporal server start-dev" in cmd for cmd in commands), commands
    assert any("lifecycle.cli worker" in cmd for cmd in commands), commands
    assert any("uvicorn api.app:create_app" in cmd for cmd in commands), commands
    assert any("weed mini" in cmd for cmd in commands), commands
    assert set(_marked_processes(dev_run.marker)) >= set(tree)

    dev_run.process.send_signal(signal.SIGINT)
    status = dev_run.wait_exit()

    assert status == 0, dev_run.output()
    _assert_quiet(dev_run.output())
    survivors = [pid for pid, started in tree.items() if _start_time(pid) == started]
    assert survivors == [], [_cmdline(pid) for pid in survivors]
    assert _marked_processes(dev_run.marker) == []
    assert "stopped" in dev_run.output()


def _assert_quiet(output: str) -> None:
    """Start and stop in order leave nothing alarming on the user's screen: the dev server's
    own start-up and shutdown chatter goes to its log file."""
    noisy = [line for line in output.splitlines()
             if any(word in line for word in ('"level": "ERROR"', '"level": "WARNING"',
                                              "level=ERROR", "level=WARN", "Traceback",
                                              "network dial error", "Failed to poll"))]
    assert noisy == [], noisy


def test_ready_means_the_worker_polls_and_links_use_the_ui_port(dev_run: DevRun) -> None:
    dev_run.wait_banner()
    # no waiting here: "ready" on the screen must already mean a worker takes work
    assert asyncio.run(_worker_pollers(dev_run.temporal_address, "org-lifecycle")) > 0
    assert f"Temporal UI  http://127.0.0.1:{dev_run.ui_port}" in dev_run.output()
    banner_db = [line for line in dev_run.output().splitlines() if "database  " in line]
    assert banner_db and "lifecycle.db" in banner_db[0], dev_run.output()
    # the object store is up with its data under the data directory, and files go through
    assert f"object store {dev_run.s3_endpoint}" in dev_run.output()
    assert s3_answers(dev_run.s3_endpoint)
    assert (dev_run.data_dir / "objects").is_dir()
    # no operator token was configured: one was generated, shown once, kept for the CLI
    [shown] = [line.split()[1] for line in dev_run.output().splitlines()
               if line.strip().startswith("operator ")]
    token_file = dev_run.data_dir / "operator-token"
    assert token_file.read_text().strip() == shown
    assert token_file.stat().st_mode & 0o777 == 0o600
    with httpx.Client(timeout=5.0) as client:
        listed = client.get(f"{dev_run.api_url}/ops/workflows",
                            headers={"Authorization": f"Bearer {shown}"})
        refused = client.get(f"{dev_run.api_url}/ops/workflows",
                             headers={"Authorization": "Bearer not-the-token"})
        published = client.get(f"{dev_run.api_url}/.well-known/lifecycle-certificate-keys")
    assert listed.status_code == 200, listed.text
    assert refused.status_code == 401
    # no signing key was configured: one was generated in the data directory, and served
    key_file = dev_run.data_dir / "certificate-signing-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    [key] = published.json()["keys"]
    assert key["key_id"] == Signer.parse(key_file.read_text().strip()).public.key_id
    dev_run.process.send_signal(signal.SIGINT)
    assert dev_run.wait_exit() == 0, dev_run.output()
    assert not token_file.exists()
    assert key_file.exists()  # kept: what it signed must stay checkable


def test_dev_stops_the_rest_and_fails_when_a_child_dies(dev_run: DevRun) -> None:
    dev_run.wait_ready()
    tree = _descendants(dev_run.process.pid)
    worker = next(pid for pid in tree if "lifecycle.cli worker" in _cmdline(pid))

    os.kill(worker, signal.SIGKILL)
    status = dev_run.wait_exit()

    assert status == 1, dev_run.output()
    assert f"the worker (pid {worker}) was killed by signal 9" in dev_run.output()
    assert _marked_processes(dev_run.marker) == []


def test_dev_catches_mail_and_the_console_shows_it(dev_run: DevRun) -> None:
    """No SMTP setting given: mail goes to the embedded sink, and the dev-only Mailbox page
    (whose address the banner prints with the console's) shows it."""
    dev_run.wait_banner()
    lines = dev_run.output().splitlines()
    assert any(line.split()[:2] == ["console", f"{dev_run.api_url}/console"] for line in lines)
    [mailbox] = [line for line in lines if line.strip().startswith("mailbox ")]
    port = int(mailbox.rsplit(":", 1)[1].rstrip(")"))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hi"
    message.set_content("open http://127.0.0.1/console/signin/link?token=abc")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)
    with httpx.Client(timeout=5.0) as client:
        page = client.get(f"{dev_run.api_url}/console/dev/mailbox")
    assert page.status_code == 200
    assert "b@example.com" in page.text
    assert '<a href="http://127.0.0.1/console/signin/link?token=abc">' in page.text
    assert len(list((dev_run.data_dir / "mailbox").glob("*.eml"))) == 1
