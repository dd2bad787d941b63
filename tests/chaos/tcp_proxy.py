"""A TCP relay between the API and PostgreSQL that a test can cut and restore.

Why a proxy and not the server: the PostgreSQL cluster on these machines is shared with other
test runs, so "the database is away" must be local to one app. The app's DATABASE_URL points at
this relay; `cut()` closes its listener and every relayed connection (new connects are refused,
open ones see the server vanish), `restore()` listens again on the same port.

`cut_when(pattern)` arms a one-shot fault: the first client-to-server packet containing
`pattern` (say the `COMMIT` of a simple-protocol query) is dropped and its connection closed, so
a test can lose the database exactly between two statements of one request. The upstream URL
must use `sslmode=disable` so the relay sees the queries in clear.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass
class _Armed:
    pattern: bytes
    fired: threading.Event = field(default_factory=threading.Event)


class TcpProxy:
    """Relay 127.0.0.1:<port> to `upstream`; threads, so it works whatever loop the app uses."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._armed: _Armed | None = None

    def start(self) -> None:
        """Listen (again) on `port`; the first start picks a free port and keeps it."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    restore = start

    def cut(self) -> int:
        """Refuse new connections and close every open one; returns how many were closed."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown() wakes the blocked accept(); close() alone does not
        with self._lock:
            open_sockets, self._sockets = self._sockets, set()
        for sock in open_sockets:
            _close(sock)
        return len(open_sockets) // 2

    def cut_when(self, pattern: bytes) -> threading.Event:
        """Drop the next client packet containing `pattern` with its connection; set on firing."""
        armed = _Armed(pattern)
        self._armed = armed
        return armed.fired

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(CHUNK):
                armed = self._armed
                if from_client and armed is not None and armed.pattern in data:
                    self._armed = None
                    armed.fired.set()
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with self._lock:
                self._sockets.discard(sock)
            _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
