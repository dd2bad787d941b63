"""Free TCP ports for servers started in another process (the object store's dozen, the test
suite's and the benchmarks' servers).

Why not `bind(("127.0.0.1", 0))` and hand the number on: that port comes from the kernel's
ephemeral range, and between our probe and the child's bind anything else asking the kernel
for a port (a Temporal dev server picks several for its internal services) can be given the
same one. Ports below the ephemeral range are never handed out that way, so a probe there
stays free unless someone names it on purpose.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20_000


def _ephemeral_low() -> int:
    try:
        return int(RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(taken: frozenset[int] = frozenset()) -> int:
    """A port below the ephemeral range that nothing listens on right now, and not in `taken`
    (the ports already chosen for the same process, not yet bound)."""
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
        return port
    raise RuntimeError(f"no free port between {LOWEST} and {high}")


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports, for one process that listens on all of them."""
    chosen: list[int] = []
    for _ in range(count):
        chosen.append(free_port(frozenset(chosen)))
    return chosen
