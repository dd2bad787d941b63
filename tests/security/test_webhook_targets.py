"""Webhook targets: public https only; loopback, private, link-local, multicast and metadata
addresses refused when an endpoint is saved and again at every connect (no DNS rebinding: the
sender connects to the address it checked); redirects never followed."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from activities.channels import Channels
from activities.delivery_errors import DeliveryError
from core import standard_webhooks
from core.settings import Settings
from core.webhook_targets import TargetPolicy, TargetRefused, check_address, check_target

STRICT = TargetPolicy()
PUBLIC = "93.184.216.34"  # a global unicast address (documentation of example.com)
REFUSED = ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
           "169.254.1.1", "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "224.0.0.1",
           "ff02::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "0.0.0.0",
           "100.64.0.1", "240.0.0.1"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(TargetRefused):
        check_address(ipaddress.ip_address(address), STRICT)


def test_public_addresses_pass_and_metadata_stays_refused_whatever_is_allowed() -> None:
    check_address(ipaddress.ip_address(PUBLIC), STRICT)
    check_address(ipaddress.ip_address("2606:4700:4700::1111"), STRICT)
    everything = TargetPolicy.of(True, ["0.0.0.0/0", "::/0"])
    check_address(ipaddress.ip_address("10.1.2.3"), everything)
    with pytest.raises(TargetRefused, match="metadata"):
        check_address(ipaddress.ip_address("169.254.169.254"), everything)


@pytest.mark.parametrize("url", [
    f"http://{PUBLIC}/hooks",  # plain http outside development
    "https://127.0.0.1/hooks", "https://[::1]/hooks", "https://169.254.169.254/latest",
    "https://localhost/hooks",  # a name that resolves to loopback
    f"https://user:pw@{PUBLIC}/hooks", "ftp://example.com/x", "https:///nohost",
    "https://exa mple.com/", "https://example.com/\r\nX: y", "https://" + "a" * 1000 + ".com",
])
def test_urls_refused_when_saved(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_target(url, STRICT)


def test_development_may_use_http_on_its_own_loopback() -> None:
    dev = TargetPolicy.of(True, ["127.0.0.0/8"])
    assert check_target("http://127.0.0.1:9/hooks", dev) == "http://127.0.0.1:9/hooks"
    with pytest.raises(TargetRefused):
        check_target("http://10.0.0.1/hooks", dev)


@contextmanager
def receiver(status: int = 200, location: str = "") -> Iterator[tuple[int, list[str]]]:
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            hosts.append(self.headers["Host"])
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hosts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Rebinding:
    """A resolver for `hooks.test` answering a public address first, then loopback, as a
    DNS rebinding attacker's name server would; counts the lookups of that name."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.lookups = 0
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if host != "hooks.test":
            return self.real(host, port, *args, **kw)
        address = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


def _post(settings: Settings, url: str) -> int:
    with Channels(settings) as channels:
        return channels.post_webhook(url, "evt_1", [standard_webhooks.new_secret()], "{}")


def test_a_name_rebound_to_loopback_after_saving_is_refused_at_connect(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    strict = settings.model_copy(update={"webhook_allow_http": True})
    dns = Rebinding([PUBLIC, "127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with receiver() as (port, hosts):
        url = f"http://hooks.test:{port}/hooks"
        check_target(url, TargetPolicy.of(True, []))  # saved: it resolved to a public address
        with pytest.raises(DeliveryError) as refused:
            _post(strict, url)
    assert refused.value.permanent and "loopback" in refused.value.reason
    assert hosts == []  # nothing reached the loopback receiver


def test_the_sender_connects_to_the_address_it_checked(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = settings.model_copy(update={"webhook_allow_http": True,
                                      "webhook_allowed_networks": ["127.0.0.0/8"]})
    dns = Rebinding(["127.0.0.1", PUBLIC])  # a second lookup would go elsewhere
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with receiver() as (port, hosts):
        assert _post(dev, f"http://hooks.test:{port}/hooks") == 200
    assert dns.lookups == 1 and hosts == [f"hooks.test:{port}"]


def test_redirects_are_not_followed(settings: Settings) -> None:
    dev = settings.model_copy(update={"webhook_allow_http": True,
                                      "webhook_allowed_networks": ["127.0.0.0/8"]})
    with receiver() as (target_port, target_hosts), \
            receiver(302, f"http://127.0.0.1:{target_port}/elsewhere") as (port, hosts), \
            pytest.raises(DeliveryError) as refused:
        _post(dev, f"http://127.0.0.1:{port}/hooks")
    assert refused.value.permanent and refused.value.status == 302
    assert len(hosts) == 1 and target_hosts == []
