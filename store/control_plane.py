"""An external control plane (a cluster service) as a deletion target: its resources of an org
are listed, deleted and polled until gone through its HTTP API.

The API this speaks (`LIFECYCLE_CONTROL_PLANE_URL`, bearer `LIFECYCLE_CONTROL_PLANE_TOKEN`):

- `GET /v1/clusters?org=<id>[&project=<id>]&after=<cursor>&limit=<n>` ->
  `{"items": [{"id": ..., "nodes": n}], "next": <cursor or null>}` (a cluster being deleted is
  still listed until it is gone);
- `DELETE /v1/clusters/<id>` with an `Idempotency-Key` -> 202 (deletion started), 404 (gone);
- `GET /v1/clusters/<id>` -> 200 while it exists, 404 once gone.

As with the billing gateway, each call is retried a few times here on 429, 5xx and connection
errors (honouring a short `Retry-After`), each delete carries an idempotency key derived from
the org and the resource, so a retried call or a retried activity never starts a second
deletion; past those retries the call raises `ControlPlaneUnavailable` and Temporal's retry
policy waits out a longer outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from core.settings import Settings
from store.targets import Page, Scope, Unit, deletion_target

log = logging.getLogger(__name__)

RETRIED = {429, 500, 502, 503, 504}


class ControlPlaneUnavailable(Exception):
    """The control plane refused or did not answer after the call's retries: retry later."""


@dataclass(frozen=True)
class ControlPlaneConfig:
    base_url: str
    token: str = ""  # never logged: `__repr__` leaves it out
    attempts: int = 4
    backoff_s: float = 0.2
    max_wait_s: float = 2.0  # the longest Retry-After honoured inside one call
    gone_deadline_s: float = 20.0  # how long a page waits for its deletions to finish

    def __repr__(self) -> str:
        return f"ControlPlaneConfig(base_url={self.base_url!r})"


class ControlPlane:
    def __init__(self, config: ControlPlaneConfig) -> None:
        self.config = config
        headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
        self.http = httpx.Client(base_url=config.base_url, headers=headers, timeout=5.0)

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             idempotency_key: str = "") -> httpx.Response:
        """One call with its own few retries; 2xx and 404 are answers, the rest retried."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        last = ""
        for attempt in range(self.config.attempts):
            try:
                answer = self.http.request(method, path, params=params, headers=headers)
            except httpx.TransportError as exc:
                last, wait = type(exc).__name__, self.config.backoff_s * 2 ** attempt
            else:
                if answer.status_code not in RETRIED:
                    if answer.status_code >= 400 and answer.status_code != 404:
                        answer.raise_for_status()
                    return answer
                last = str(answer.status_code)
                wait = _retry_after(answer, self.config.backoff_s * 2 ** attempt)
            time.sleep(min(wait, self.config.max_wait_s))
        log.warning("control plane %s %s failed after %d attempts: %s", method, path,
                    self.config.attempts, last)
        raise ControlPlaneUnavailable(f"the control plane is unavailable ({last})")

    def list_page(self, scope: Scope, after: str, limit: int) -> tuple[list[Unit], str | None]:
        params: dict[str, Any] = {"org": scope.org_id, "limit": limit}
        if scope.project_id:
            params["project"] = scope.project_id
        if after:
            params["after"] = after
        body = self.call("GET", "/v1/clusters", params=params).json()
        units = [Unit(str(item["id"]), int(item.get("nodes", 0))) for item in body["items"]]
        return units, body.get("next")

    def exists(self, resource_id: str) -> bool:
        return self.call("GET", f"/v1/clusters/{resource_id}").status_code != 404


def _retry_after(answer: httpx.Response, default: float) -> float:
    value = answer.headers.get("retry-after", "")
    return float(value) if value.replace(".", "", 1).isdigit() else default


@deletion_target("control_plane")
class ControlPlaneTarget:
    """Clusters of the org's projects: units are clusters, their size the nodes they hold."""

    name: ClassVar[str]
    activity: ClassVar[str] = "purge_target"
    units_kind: ClassVar[str] = "clusters"
    size_kind: ClassVar[str] = "nodes"

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def enumerate(self, scope: Scope, cursor: str, limit: int) -> Page:
        units, after = self.plane.list_page(scope, cursor, limit)
        return Page(units, after if units else None)

    def delete(self, scope: Scope, units: Sequence[Unit]) -> None:
        """Start every deletion of the page, then poll until each is gone (bounded)."""
        for unit in units:
            self.plane.call("DELETE", f"/v1/clusters/{unit.key}",
                            idempotency_key=f"teardown-{scope.org_id}-{unit.key}")
        pending = [u.key for u in units]
        deadline = time.monotonic() + self.plane.config.gone_deadline_s
        while pending:
            pending = [key for key in pending if self.plane.exists(key)]
            if pending and time.monotonic() > deadline:
                raise ControlPlaneUnavailable(f"{len(pending)} cluster(s) still being deleted")
            if pending:
                time.sleep(0.05)

    def verify(self, scope: Scope) -> dict[str, int]:
        return {"clusters": sum(len(page.units) for page in self._pages(scope))}

    def count(self, scope: Scope) -> dict[str, int]:
        clusters = nodes = 0
        for page in self._pages(scope):
            clusters += len(page.units)
            nodes += sum(u.size for u in page.units)
        return {"clusters": clusters, "nodes": nodes}

    def _pages(self, scope: Scope) -> list[Page]:
        pages, cursor = [], ""
        while True:
            page = self.enumerate(scope, cursor, 500)
            pages.append(page)
            if page.cursor is None:
                return pages
            cursor = page.cursor


def configured_plane(settings: Settings) -> ControlPlane | None:
    if not settings.control_plane_url:
        return None
    return ControlPlane(ControlPlaneConfig(
        settings.control_plane_url, settings.control_plane_token.get_secret_value()))
