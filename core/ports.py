"""Free TCP ports for servers started in another process (the object store's dozen, the test
suite's and the benchmarks' servers).

Why not `bind(("127.0.0.1", 0))` and hand the number on: that port comes from the kernel's
ephemeral range, and between our probe and the child's bind anything else asking the kernel
for a port (a Temporal dev server picks several for its internal services) can be given the
same one. Ports below the ephemeral range are never handed out that way, so a probe there
stays free unless someone names it on purpose.

Someone does: another process of ours, choosing ports at the same moment (the test suite runs
on several workers, a dev stack starts beside it). A probe only sees what already listens, and
a child may bind its ports seconds after they were chosen (the object store binds service by
service), so each chosen port is also leased, machine-wide, for a few minutes: a file created
exclusively under a lease directory, named by the port and the lease period it was taken in.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import tempfile
import time
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20_000
# A lease lasts from one to two periods: long enough for any child to bind what it was given.
LEASE_PERIOD_S = 300
LEASES_ENV = "LIFECYCLE_PORT_LEASES"


def _ephemeral_low() -> int:
    try:
        return int(RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def lease_dir() -> Path:
    return Path(os.environ.get(LEASES_ENV) or Path(tempfile.gettempdir()) / "lifecycle-ports")


@functools.cache
def _swept(directory: Path, period: int) -> None:
    """Remove leases older than the previous period, once per process and period."""
    for entry in directory.glob("*.*"):
        try:
            if int(entry.suffix[1:]) < period - 1:
                entry.unlink(missing_ok=True)
        except ValueError:
            continue


def lease(port: int) -> bool:
    """Claim `port` against every other process on this machine choosing ports here; False
    when one of them holds it. Where leases cannot be written (a directory of another user),
    the probe alone decides, as it did before leases."""
    directory = lease_dir()
    period = int(time.time()) // LEASE_PERIOD_S
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _swept(directory, period)
        if (directory / f"{port}.{period - 1}").exists():
            return False
        os.close(os.open(directory / f"{port}.{period}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except PermissionError:
        return True
    return True


def free_port(taken: frozenset[int] = frozenset()) -> int:
    """A port below the ephemeral range that nothing listens on right now, not in `taken`
    (the ports already chosen for the same process, not yet bound), and now leased to us."""
    high = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(LOWEST, high)
        if port in taken:
            continue
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        if lease(port):
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {high}")


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports, for one process that listens on all of them."""
    chosen: list[int] = []
    for _ in range(count):
        chosen.append(free_port(frozenset(chosen)))
    return chosen
