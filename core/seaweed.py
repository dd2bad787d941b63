"""SeaweedFS as the local S3-compatible object store (`weed mini`: master, volume, filer and
S3 gateway in one process), for `lifecycle dev`, the tests and the benchmarks.

`weed mini` listens on a dozen ports (each service's HTTP and gRPC); every one is chosen here,
free on loopback, so two stacks on one machine never collide, and nothing listens beyond
127.0.0.1. Without identities configured the gateway accepts any credentials: a development
store only.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.binaries import seaweedfs
from core.ports import free_ports

# Every listening port of `weed mini`, by its flag.
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "s3.port.grpc", "s3.port.iceberg",
              "s3.port.lance", "admin.port", "admin.port.grpc", "webdav.port")
DEFAULT_S3_PORT = 8333




@dataclass(frozen=True)
class WeedPlan:
    data_dir: Path
    s3_port: int
    ports: dict[str, int]

    @classmethod
    def fresh(cls, data_dir: Path, s3_port: int = 0) -> WeedPlan:
        ports = free_ports(len(PORT_FLAGS) + 1)
        return cls(data_dir, s3_port or ports[-1], dict(zip(PORT_FLAGS, ports, strict=False)))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def argv(self) -> list[str]:
        return [seaweedfs(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-admin.ui=false", f"-s3.port={self.s3_port}",
                *(f"-{flag}={port}" for flag, port in self.ports.items())]


def s3_answers(endpoint: str) -> bool:
    """True once the S3 gateway answers HTTP at all (any status: it wants a signature)."""
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_for_s3(endpoint: str, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while not s3_answers(endpoint):
        if time.monotonic() > end:
            raise TimeoutError(f"the object store at {endpoint} did not answer in {deadline_s}s")
        time.sleep(0.1)


@contextlib.contextmanager
def running(plan: WeedPlan, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `weed mini` for the block (tests and benchmarks); the process is yours to stop and
    start again (`restart`)."""
    process = start(plan, log)
    try:
        yield process
    finally:
        stop(process)


def start(plan: WeedPlan, log: Path | None = None) -> subprocess.Popen[bytes]:
    plan.data_dir.mkdir(parents=True, exist_ok=True)
    out = (log or plan.data_dir / "weed.log").open("ab")
    try:
        process = subprocess.Popen(plan.argv(), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    finally:
        out.close()
    try:
        wait_for_s3(plan.endpoint)
    except TimeoutError:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
