"""A TLS front for a plain gRPC server: certificates made with `openssl`, mTLS optional.

Why: the Temporal dev server speaks only plain gRPC, and a client's TLS settings are proven
only by a handshake with a real TLS server. This one terminates TLS (ALPN h2, as gRPC needs)
and relays the decrypted bytes to the dev server; with a client CA it refuses a client
without a certificate signed by it, as an mTLS frontend does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

SERVER_NAME = "temporal.test"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(directory: Path) -> Pki:
    """A CA, a server certificate for `SERVER_NAME` and a client certificate, all signed by it."""
    pki = Pki(*(directory / name for name in ("ca.pem", "server.pem", "server.key",
                                                "client.pem", "client.key")))
    ca_key = directory / "ca.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(ca_key), "-out", str(pki.ca), "-days", "2",
             "-subj", "/CN=lifecycle test CA")
    for cert, key, name, usage in ((pki.server_cert, pki.server_key, SERVER_NAME, "serverAuth"),
                                   (pki.client_cert, pki.client_key, "worker", "clientAuth")):
        csr = directory / f"{name}.csr"
        ext = directory / f"{name}.ext"
        ext.write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage={usage}\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(pki.ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return pki


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def tls_front(upstream: str, pki: Pki, *, require_client_cert: bool
                    ) -> AsyncIterator[str]:
    """Serve TLS on a free loopback port in front of `upstream` (host:port); yields host:port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.set_alpn_protocols(["h2"])
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    host, _, port = upstream.rpartition(":")

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
