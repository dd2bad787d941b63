"""A small, real cluster control plane for tests: an HTTP server on a free loopback port that
holds clusters in memory and speaks the API `store/control_plane.py` expects.

A deletion is asynchronous, as a real one is: `DELETE` answers 202 and the cluster stays
listed (state `deleting`) until it has been polled `polls_to_delete` times. It records every
idempotency key it saw, so a test can tell a retried call from a second deletion, and
`refuse(n, status)` makes it answer the next `n` requests with 503 or 429 (with Retry-After).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Cluster:
    id: str
    org_id: str
    project_id: str
    nodes: int
    state: str = "running"
    polls: int = 0


@dataclass
class ControlPlaneState:
    clusters: dict[str, Cluster] = field(default_factory=dict)
    deletions_started: dict[str, str] = field(default_factory=dict)  # key -> cluster id
    delete_calls: int = 0
    refusals: list[int] = field(default_factory=list)  # statuses still to answer
    refused: int = 0
    polls_to_delete: int = 2
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, org_id: str, project_id: str, count: int, nodes: int = 3) -> int:
        """`count` clusters of a project; their nodes in total."""
        with self.lock:
            for i in range(count):
                cid = f"c-{project_id[:8]}-{len(self.clusters):06d}-{i:04d}"
                self.clusters[cid] = Cluster(cid, org_id, project_id, nodes + i % 3)
            return sum(nodes + i % 3 for i in range(count))

    def refuse(self, count: int, status: int) -> None:
        with self.lock:
            self.refusals.extend([status] * count)

    def of(self, org_id: str) -> list[Cluster]:
        with self.lock:
            return [c for c in self.clusters.values() if c.org_id == org_id]


def _handler(state: ControlPlaneState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None
                  ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refused(self) -> bool:
            with state.lock:
                if not state.refusals:
                    return False
                status = state.refusals.pop(0)
                state.refused += 1
            self._send(status, {"error": "try later"}, {"Retry-After": "0.05"})
            return True

        def do_GET(self) -> None:
            if self._refused():
                return
            url = urlparse(self.path)
            if url.path == "/v1/clusters":
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with state.lock:
                    found = sorted((c for c in state.clusters.values()
                                    if c.org_id == query.get("org")
                                    and query.get("project", c.project_id) == c.project_id
                                    and c.id > query.get("after", "")), key=lambda c: c.id)
                limit = int(query.get("limit", "100"))
                page = found[:limit]
                nxt = page[-1].id if len(found) > limit else None
                self._send(200, {"items": [{"id": c.id, "nodes": c.nodes, "state": c.state}
                                           for c in page], "next": nxt})
                return
            cid = url.path.rsplit("/", 1)[-1]
            with state.lock:
                cluster = state.clusters.get(cid)
                if cluster is not None and cluster.state == "deleting":
                    cluster.polls += 1
                    if cluster.polls >= state.polls_to_delete:
                        del state.clusters[cid]
                        cluster = None
            if cluster is None:
                self._send(404, {"error": "not found"})
            else:
                self._send(200, {"id": cid, "state": cluster.state})

        def do_DELETE(self) -> None:
            if self._refused():
                return
            cid = urlparse(self.path).path.rsplit("/", 1)[-1]
            key = self.headers.get("Idempotency-Key", "")
            with state.lock:
                state.delete_calls += 1
                cluster = state.clusters.get(cid)
                if cluster is None:
                    status = 404
                else:
                    if key not in state.deletions_started:
                        state.deletions_started[key] = cid
                    cluster.state = "deleting"
                    status = 202
            self._send(status, {"id": cid})

    return Handler


@contextmanager
def control_plane_server() -> Iterator[tuple[str, ControlPlaneState]]:
    state = ControlPlaneState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
