"""The API's one Temporal client, connected on first use rather than at start-up.

Connecting lazily lets the API start (and answer `/healthz`) while Temporal is still coming up
or briefly away; routes that need Temporal get a 503 problem until it answers, and the next
request tries again instead of the process crashing.

Every call through the client gives up quickly when the frontend is away: the SDK's default
retries an unreachable server for ten seconds, long enough for a load balancer or a client to
time the request out, so a request held up by an outage would look like a hang instead of
the prompt 503 (with `Retry-After`) a client can act on. Keep-alive pings notice a frontend
that went silent without closing its connection.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import KeepAliveConfig, RetryConfig

from core.temporal import CONNECT_ERRORS, TemporalSecurity, connect_once, short_error

CONNECT_TIMEOUT_S = 3.0
# About 2.5 s of retries (0.1 s doubling, 5 tries) ride out a frontend restart's blink, then
# the request answers 503.
CALL_RETRIES = RetryConfig(initial_interval_millis=100, multiplier=2.0, max_interval_millis=1000,
                           max_elapsed_time_millis=2500, max_retries=5)
KEEP_ALIVE = KeepAliveConfig(interval_millis=5000, timeout_millis=3000)


class TemporalConnection:
    """Holds the shared client; `get()` connects once and reuses the client afterwards.

    The SDK client reconnects by itself after a dropped connection, so a client that once
    connected is kept; only a failed first connection is retried on the next call.
    """

    def __init__(self, address: str, namespace: str, client: Client | None = None,
                 security: TemporalSecurity | None = None) -> None:
        self.address = address
        self.namespace = namespace
        self.security = security
        # An injected client (tests: the time-skipping server's) is used as is and kept.
        self._injected = client
        self._client: Client | None = client
        self._lock: asyncio.Lock | None = None

    async def get(self) -> Client:
        """The connected client; raises `ConnectionError` with a one-line reason otherwise."""
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect_once(
                        self.address, self.namespace, timeout_s=CONNECT_TIMEOUT_S,
                        retry_config=CALL_RETRIES, keep_alive=KEEP_ALIVE,
                        security=self.security)
                except CONNECT_ERRORS as exc:
                    raise ConnectionError(f"Temporal at {self.address}: "
                                          f"{short_error(exc)}") from exc
        return self._client

    async def check(self, timeout_s: float) -> None:
        """Raise unless the frontend answers a health check within `timeout_s`."""

        async def probe() -> None:
            client = await self.get()
            healthy = await client.service_client.check_health(
                timeout=timedelta(seconds=timeout_s))
            if not healthy:
                raise ConnectionError(f"Temporal at {self.address} reports not serving")

        await asyncio.wait_for(probe(), timeout_s)

    def forget(self) -> None:
        """Drop the client at shutdown: it belongs to the event loop that is ending."""
        self._client = self._injected
        self._lock = None
