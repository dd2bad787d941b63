"""Where a webhook may be sent: public HTTPS endpoints only, checked when set and at connect.

Why twice: a URL that resolved to a public address when the admin saved it can resolve to
`127.0.0.1` or the cloud metadata service a minute later (DNS rebinding). So the sender
resolves the host itself at connect time, refuses the connection unless every address is
allowed, and connects to the address it checked, never asking DNS again; TLS still verifies
the certificate for the URL's host name. Redirects are never followed (a redirect is an
answer, not a new target).

Refused: loopback, private (RFC 1918, unique-local), link-local, multicast, unspecified,
reserved, shared (100.64/10) and the metadata addresses. `allowed_networks` (a setting) lets
a deployment reach named internal networks, and development reach its own loopback receiver;
the metadata addresses stay refused whatever it says. `http://` is accepted only where the
deployment allows it (development).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata services (AWS, GCP, Azure, Alibaba, AWS IPv6): never a target.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"))
MAX_URL_LENGTH = 1000


class TargetRefused(ValueError):
    """A webhook URL or address we will not send to; the message says why, for the admin."""


@dataclass(frozen=True)
class TargetPolicy:
    allow_http: bool = False
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow_http: bool, networks: Sequence[str]) -> TargetPolicy:
        return cls(allow_http, tuple(ipaddress.ip_network(n, strict=False) for n in networks))


def check_url(url: str, policy: TargetPolicy) -> str:
    """The URL if its form is acceptable (scheme, host, no credentials), else TargetRefused.

    A literal address in the URL is checked here too; a host name is checked when it is
    resolved (`resolve_checked`), at save time and again at every connect.
    """
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise TargetRefused("the URL is too long or holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("the URL cannot be parsed") from None
    if parts.scheme not in ("https", "http") or (parts.scheme == "http"
                                                  and not policy.allow_http):
        raise TargetRefused("the URL must start with https://")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not hold credentials")
    if port == 0:
        raise TargetRefused("the URL's port is not usable")
    literal = _literal(parts.hostname)
    if literal is not None:
        check_address(literal, policy)
    return url


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_address(address: IPAddress, policy: TargetPolicy) -> None:
    """Refuse an address that is not a public unicast one (unless its network is allowed)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        raise TargetRefused(f"{address} is a metadata address")
    if any(address in network for network in policy.allowed_networks):
        return
    if address.is_loopback:
        raise TargetRefused(f"{address} is a loopback address")
    if address.is_link_local:
        raise TargetRefused(f"{address} is a link-local address")
    if address.is_multicast:
        raise TargetRefused(f"{address} is a multicast address")
    if address.is_private or address.is_reserved or address.is_unspecified \
            or not address.is_global:
        raise TargetRefused(f"{address} is a private or reserved address")


def resolve_checked(host: str, port: int, policy: TargetPolicy) -> str:
    """Resolve `host` once and return one address to connect to, every address checked.

    All addresses must pass: a name that resolves to a public and a private address would
    otherwise reach the private one on some connect.
    """
    literal = _literal(host)
    if literal is not None:
        check_address(literal, policy)
        return str(literal)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolved(f"the host {host} does not resolve ({type(exc).__name__})"
                               ) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetUnresolved(f"the host {host} has no address")
    for address in addresses:
        check_address(address, policy)
    return str(addresses[0])


class TargetUnresolved(OSError):
    """The host does not resolve now: maybe later (retried), unlike a refused address."""


def check_target(url: str, policy: TargetPolicy) -> str:
    """What an endpoint's URL must pass when it is saved: its form and its addresses now."""
    check_url(url, policy)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        resolve_checked(host, parts.port or (443 if parts.scheme == "https" else 80), policy)
    except TargetUnresolved as exc:
        raise TargetRefused(str(exc)) from None
    return url
