"""The compose file's wiring, checked without Docker (it does not run on these machines).

Why: a compose file is only exercised by `docker compose up`, so a renamed setting, a service
renamed in one place, or a port that no longer matches would otherwise surface only when an
operator starts the stack. These tests read the file the way compose does and compare it with
`Settings`, which is the one place the application reads its configuration from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
REQUIRED = ("postgres", "temporal", "temporal-ui", "api", "worker")
APP_SERVICES = ("api", "worker")
LIFECYCLE_VAR = re.compile(r"\bLIFECYCLE_[A-Z0-9_]+\b")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whichever of compose's two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _container_ports(service: dict[str, Any]) -> set[int]:
    """Ports the service listens on inside the compose network: `expose` and the container
    side of `ports` (short syntax `host:container` or long syntax `target`)."""
    found: set[int] = {int(str(p).split("/")[0]) for p in service.get("expose", [])}
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.add(int(port["target"]))
        else:
            found.add(int(str(port).split("/")[0].rsplit(":", 1)[-1]))
    return found


def _host_port(value: str, default_port: int | None = None) -> tuple[str, int]:
    """Host and port of a URL (`postgresql://u:p@host:5432/db`) or a bare `host:port`."""
    parts = urlsplit(value if "://" in value else f"tcp://{value}")
    assert parts.hostname, value
    port = parts.port or default_port
    assert port is not None, f"{value} names no port"
    return parts.hostname, port


def test_every_needed_service_is_defined(compose: dict[str, Any]) -> None:
    assert set(REQUIRED) <= set(_services(compose))


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    images = {name: s["image"] for name, s in _services(compose).items() if "image" in s}
    assert images, "no service pulls an image"
    for name, image in images.items():
        if "@sha256:" in image:
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: image {image} has no tag"
        assert tag != "latest", f"{name}: image {image} is not pinned"
    for name, service in _services(compose).items():
        assert "image" in service or "build" in service, f"{name}: neither image nor build"
    for line in DOCKERFILE.read_text().splitlines():
        if line.upper().startswith("FROM "):
            base = line.split()[1]
            assert ":" in base and not base.endswith(":latest"), f"Dockerfile: {line}"


def test_app_services_reach_postgres_and_temporal(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in APP_SERVICES:
        env = _env(services[name])
        db_host, db_port = _host_port(env["LIFECYCLE_DATABASE_URL"], 5432)
        assert db_host in services, f"{name}: database host {db_host} is not a service"
        assert db_port in _container_ports(services[db_host]), \
            f"{name}: {db_host} does not listen on {db_port}"
        assert env["LIFECYCLE_DATABASE_URL"].startswith("postgresql://")
        t_host, t_port = _host_port(env["LIFECYCLE_TEMPORAL_ADDRESS"])
        assert t_host in services, f"{name}: Temporal host {t_host} is not a service"
        assert t_port in _container_ports(services[t_host]), \
            f"{name}: {t_host} does not listen on {t_port}"
        assert "LIFECYCLE_KEY_PEPPER" in env, f"{name}: no key pepper (API and worker share it)"
    assert _env(services["api"])["LIFECYCLE_KEY_PEPPER"] == \
        _env(services["worker"])["LIFECYCLE_KEY_PEPPER"]
    ui_host, ui_port = _host_port(_env(services["temporal-ui"])["TEMPORAL_ADDRESS"])
    assert ui_host in services and ui_port in _container_ports(services[ui_host])


def test_api_listens_where_it_is_published(compose: dict[str, Any]) -> None:
    """The image's uvicorn command and the compose port mapping must name the same port."""
    cmd = next(line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD"))
    published = re.search(r'"--port", "(\d+)"', cmd)
    assert published, cmd
    port = int(published.group(1))
    assert port in _container_ports(_services(compose)["api"])


def test_every_lifecycle_variable_is_a_setting(compose: dict[str, Any]) -> None:
    """A misspelt `LIFECYCLE_*` name is silently ignored by pydantic-settings (extra=ignore),
    so a typo in the compose file would run the stack on defaults."""
    fields = {f"LIFECYCLE_{name.upper()}" for name in Settings.model_fields}
    used = set(LIFECYCLE_VAR.findall(COMPOSE.read_text()))
    used |= set(LIFECYCLE_VAR.findall(DOCKERFILE.read_text()))
    assert used, "the compose file configures nothing"
    assert used <= fields, f"not settings: {sorted(used - fields)}"
    for name, service in _services(compose).items():
        for key in _env(service):
            if key.startswith("LIFECYCLE_"):
                assert key in fields, f"{name}: {key} is not a setting"


def test_startup_order_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in (*APP_SERVICES, "temporal", "temporal-ui"):
        assert isinstance(services[name].get("depends_on"), dict), \
            f"{name}: depends_on needs conditions"
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["temporal"]["condition"] == "service_healthy"
        # the database directly, or through the migration job that itself waits for it
        waits_db = deps.get("postgres", {}).get("condition") == "service_healthy"
        via_migrate = deps.get("migrate", {}).get("condition") == \
            "service_completed_successfully" and \
            services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert waits_db or via_migrate, f"{name}: starts before PostgreSQL is healthy"
    assert services["temporal"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_healthchecks_back_every_health_condition(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            if spec.get("condition") == "service_healthy":
                assert services[dep].get("healthcheck", {}).get("test"), \
                    f"{name} waits for {dep}, which has no healthcheck"
    for name in ("postgres", "temporal", "api"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name}: no healthcheck"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for service in _services(compose).values():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")):
                used.add(source)
    assert "pgdata" in used, "PostgreSQL data is not on a named volume"
    assert used <= declared, f"undeclared volumes: {sorted(used - declared)}"
