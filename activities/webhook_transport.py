"""The HTTP client webhooks are sent with: every connection goes to an address just checked.

`httpcore` asks its network backend to open each TCP connection by host name; this backend
resolves the name itself (`core.webhook_targets.resolve_checked`), refuses it unless every
address is allowed, and connects to the checked address. TLS is started afterwards for the
URL's host name, so certificates are verified as usual. No proxy from the environment (it
would connect for us, unchecked) and no redirects.
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

from core.webhook_targets import TargetPolicy, resolve_checked


class CheckedBackend(httpcore.SyncBackend):
    """Opens a TCP connection only to an address `policy` allows, resolved once."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                    ) -> httpcore.NetworkStream:
        address = resolve_checked(host, port, self.policy)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class CheckedTransport(httpx.HTTPTransport):
    """`httpx.HTTPTransport` whose connection pool opens connections through `CheckedBackend`."""

    def __init__(self, policy: TargetPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=ssl.create_default_context(),
                                             network_backend=CheckedBackend(policy))


def webhook_client(policy: TargetPolicy, timeout: float) -> httpx.Client:
    return httpx.Client(transport=CheckedTransport(policy), timeout=timeout,
                        follow_redirects=False, trust_env=False)
