"""Temporal is reached by the API and the worker only: compose keeps its ports off the host,
and a remote cluster is reached over TLS (mTLS) or with an API key.

Why: Temporal's frontend has no authentication of its own; compose published 7233 and the UI's
8080 on every interface, so anyone on the network could start, signal or terminate workflows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr, ValidationError
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings, SettingsError
from core.temporal import CONNECT_ERRORS, TemporalSecurity, connect_once
from tests.support.deploy_support import COMPOSE
from tests.support.tls_proxy import SERVER_NAME, make_pki, tls_front


def test_compose_publishes_no_temporal_port_beyond_loopback() -> None:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "ports" not in services["temporal"], "the frontend must stay on the compose network"
    for name in ("temporal", "temporal-ui", "temporal-schema", "temporal-namespace"):
        for port in services[name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_tls_and_api_key_settings_build_the_sdk_config(tmp_path: Path) -> None:
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "cert.pem", "key.pem"))
    for path in (ca, cert, key):
        path.write_bytes(f"-----{path.stem}-----\n".encode())
    assert TemporalSecurity.from_settings(Settings()) == TemporalSecurity(tls=False)
    mtls = TemporalSecurity.from_settings(Settings(
        temporal_tls_ca_file=str(ca), temporal_tls_cert_file=str(cert),
        temporal_tls_key_file=str(key), temporal_tls_server_name="temporal.internal",
        temporal_api_key=SecretStr("cloud-api-key")))
    assert mtls.tls == TLSConfig(server_root_ca_cert=ca.read_bytes(),
                                 client_cert=cert.read_bytes(),
                                 client_private_key=key.read_bytes(),
                                 domain="temporal.internal")
    assert mtls.api_key == "cloud-api-key"
    cloud = TemporalSecurity.from_settings(Settings(temporal_api_key=SecretStr("k")))
    assert cloud == TemporalSecurity(tls=True, api_key="k")  # an API key never goes in clear
    with pytest.raises(ValidationError, match="go together"):
        Settings(temporal_tls_cert_file=str(cert))
    with pytest.raises(SettingsError, match="LIFECYCLE_TEMPORAL_TLS_CA_FILE"):
        TemporalSecurity.from_settings(Settings(temporal_tls_ca_file=str(tmp_path / "none")))


async def test_tls_and_api_key_settings_reach_the_sdk(local_temporal: WorkflowEnvironment) -> None:
    """The dev server speaks plain gRPC: with TLS on, the same address is refused, so the
    setting does reach the connection."""
    address = local_temporal.client.service_client.config.target_host
    plain = await connect_once(address, "default", timeout_s=10,
                               security=TemporalSecurity.from_settings(Settings()))
    assert plain.namespace == "default"
    with pytest.raises(CONNECT_ERRORS):
        await connect_once(address, "default", timeout_s=5, security=TemporalSecurity.from_settings(
            Settings(temporal_tls=True)))


async def test_mtls_to_a_real_tls_frontend(local_temporal: WorkflowEnvironment,
                                           tmp_path: Path) -> None:
    """Through a TLS front that requires a client certificate: the settings' CA, certificate,
    key and server name connect; without the client certificate the handshake is refused."""
    pki = make_pki(tmp_path)
    upstream = local_temporal.client.service_client.config.target_host
    mtls = Settings(temporal_tls_ca_file=str(pki.ca), temporal_tls_cert_file=str(pki.client_cert),
                    temporal_tls_key_file=str(pki.client_key), temporal_tls_server_name=SERVER_NAME)
    no_cert = Settings(temporal_tls_ca_file=str(pki.ca), temporal_tls_server_name=SERVER_NAME)
    async with tls_front(upstream, pki, require_client_cert=True) as address:
        client = await connect_once(address, "default", timeout_s=20,
                                    security=TemporalSecurity.from_settings(mtls))
        assert await client.service_client.check_health()
        with pytest.raises(CONNECT_ERRORS):
            await connect_once(address, "default", timeout_s=5,
                               security=TemporalSecurity.from_settings(no_cert))
