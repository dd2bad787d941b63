"""Ports handed to servers in other processes: below the kernel's ephemeral range, distinct
within one process's set (the object store listens on a dozen at once), and leased so two
processes choosing at the same moment never get the same one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.ports import LEASE_PERIOD_S, LEASES_ENV, LOWEST, _ephemeral_low, free_ports, lease

CHOOSE = "import json; from core.ports import free_ports; print(json.dumps(free_ports({n})))"


@pytest.fixture(autouse=True)
def own_leases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Leases of this module's own, so its hundreds of ports do not hold the machine's."""
    directory = tmp_path / "leases"
    monkeypatch.setenv(LEASES_ENV, str(directory))
    return directory


def test_a_set_of_ports_is_distinct_free_and_below_the_ephemeral_range() -> None:
    ports = free_ports(400)  # a collision within a set this size is likely if unchecked
    assert len(set(ports)) == len(ports)
    assert all(LOWEST <= p < _ephemeral_low() for p in ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing listens there


def test_two_processes_choosing_at_once_never_share_a_port() -> None:
    # 600 each out of ~12,700: unleased, about 28 ports would be handed to both.
    children = [subprocess.Popen([sys.executable, "-c", CHOOSE.format(n=600)],
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    sets = [set(json.loads(child.communicate()[0])) for child in children]
    assert all(len(s) == 600 for s in sets)
    assert not sets[0] & sets[1]


def test_a_lease_holds_through_the_next_period_and_is_swept_after(own_leases: Path) -> None:
    period = int(time.time()) // LEASE_PERIOD_S
    own_leases.mkdir()
    expired = own_leases / f"21002.{period - 2}"
    expired.touch()
    own_leases.joinpath(f"21001.{period - 1}").touch()  # taken late in the previous period
    assert lease(21_000)
    assert not lease(21_000)
    assert not lease(21_001)
    assert not expired.exists()
    assert lease(21_002)
