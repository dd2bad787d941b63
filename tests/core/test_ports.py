"""Ports handed to servers in other processes: below the kernel's ephemeral range, and distinct
within one process's set (the object store listens on a dozen at once)."""

from __future__ import annotations

import socket

from core.ports import LOWEST, _ephemeral_low, free_ports


def test_a_set_of_ports_is_distinct_free_and_below_the_ephemeral_range() -> None:
    ports = free_ports(400)  # a collision within a set this size is likely if unchecked
    assert len(set(ports)) == len(ports)
    assert all(LOWEST <= p < _ephemeral_low() for p in ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing listens there
