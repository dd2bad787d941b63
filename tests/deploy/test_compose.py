"""The compose file's wiring, checked without Docker (it does not run on these machines).

Why: a compose file is only exercised by `docker compose up`, so a renamed setting, a service
renamed in one place, or a port that no longer matches would otherwise surface only when an
operator starts the stack. These tests read the file the way compose does and compare it with
`Settings`, which is the one place the application reads its configuration from.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import Settings
from tests.support.deploy_support import COMPOSE, DOCKERFILE, ROOT, longest_heartbeat_timeout_s

REQUIRED = ("postgres", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
            "migrate", "api", "worker")
APP_SERVICES = ("api", "worker")
LIFECYCLE_VAR = re.compile(r"\bLIFECYCLE_[A-Z0-9_]+\b")
SEARCH_ATTRIBUTE = re.compile(r"SearchAttributeKey\.for_(\w+)\(\s*[\"'](\w+)[\"']")
# The SDK's SearchAttributeKey.for_<kind> and the CLI's --type for the same indexed type.
ATTRIBUTE_TYPES = {"keyword": "Keyword", "text": "Text", "int": "Int", "float": "Double",
                   "bool": "Bool", "datetime": "Datetime", "keyword_list": "KeywordList"}


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
    """Host and port of a URL (`postgresql://u:p@host:5432/db`) or a bare `host:port`;
    compose's `${VAR...}` interpolations stand for values that are not addresses."""
    value = re.sub(r"\$\{[^}]*\}", "x", value)
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


def _waits(services: dict[str, dict[str, Any]], name: str, dep: str) -> str | None:
    condition: str | None = (services[name].get("depends_on") or {}).get(dep, {}).get("condition")
    return condition


def test_startup_order_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    """PostgreSQL, then Temporal's schema, then the server, then its namespace, then the app."""
    services = _services(compose)
    for name in (*APP_SERVICES, "temporal", "temporal-ui", "temporal-schema",
                 "temporal-namespace", "migrate"):
        assert isinstance(services[name].get("depends_on"), dict), \
            f"{name}: depends_on needs conditions"
    done, healthy = "service_completed_successfully", "service_healthy"
    assert _waits(services, "temporal-schema", "postgres") == healthy
    assert _waits(services, "temporal", "postgres") == healthy
    assert _waits(services, "temporal", "temporal-schema") == done
    assert _waits(services, "temporal-namespace", "temporal") == healthy
    assert _waits(services, "temporal-ui", "temporal") == healthy
    assert _waits(services, "migrate", "postgres") == healthy
    for name in APP_SERVICES:
        assert _waits(services, name, "temporal") == healthy
        assert _waits(services, name, "temporal-namespace") == done, \
            f"{name}: starts before its Temporal namespace exists"
        # the database directly, or through the migration job that itself waits for it
        assert _waits(services, name, "postgres") == healthy or \
            _waits(services, name, "migrate") == done, f"{name}: starts before PostgreSQL"
    for name in ("temporal-schema", "temporal-namespace", "migrate"):
        assert services[name].get("restart") == "no", f"{name}: a one-shot must not restart"


def test_healthchecks_back_every_health_condition(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            if spec.get("condition") == "service_healthy":
                assert services[dep].get("healthcheck", {}).get("test"), \
                    f"{name} waits for {dep}, which has no healthcheck"
    for name in ("postgres", "temporal", "api", "worker"):
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


SECRETS = ("POSTGRES_PASSWORD", "LIFECYCLE_KEY_PEPPER", "LIFECYCLE_WEBHOOK_SECRET_KEY")
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}")


def test_secrets_have_no_default(compose: dict[str, Any]) -> None:
    """Every use of a secret is `${NAME:?message}`: compose refuses to start without it and
    says which variable to set, instead of running on a password printed in this file."""
    uses = [m for m in INTERPOLATION.finditer(COMPOSE.read_text()) if m.group(1) in SECRETS]
    assert {m.group(1) for m in uses} == set(SECRETS)
    for use in uses:
        assert use.group(2) == ":?", f"{use.group(0)} has a default or no message"
        assert use.group(1) in use.group(3) or "set " in use.group(3), use.group(0)
    for name, service in _services(compose).items():
        for key, value in _env(service).items():
            if "PASSWORD" in key or "PWD" in key or "PEPPER" in key:
                assert "${" in value, f"{name}: {key} is written into the file"


def _host_bindings(service: dict[str, Any]) -> list[str]:
    """The host side of each published port: an address (`127.0.0.1:8080:8080`) or '' (all)."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append(str(port.get("host_ip", "")))
            continue
        parts = str(port).split(":")
        found.append(parts[0] if len(parts) == 3 else "")
    return found


def test_temporal_is_not_published_beyond_loopback(compose: dict[str, Any]) -> None:
    """Temporal's frontend and UI have no authentication here: anyone who reaches them can
    start or terminate any workflow. The frontend stays on the compose network, the UI on the
    host's loopback."""
    services = _services(compose)
    assert not services["temporal"].get("ports"), "the Temporal frontend is published"
    assert 7233 in _container_ports(services["temporal"])
    ui = _host_bindings(services["temporal-ui"])
    assert ui and all(host == "127.0.0.1" for host in ui), f"the UI is published on {ui}"
    for name in ("postgres", "temporal-schema", "temporal-namespace", "migrate", "worker"):
        assert not services[name].get("ports"), f"{name} is published on the host"


def test_two_replicas_of_api_and_worker(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in APP_SERVICES:
        assert services[name]["deploy"]["replicas"] == 2, name
        assert "container_name" not in services[name], f"{name}: a fixed name allows one replica"
    (published,) = services["api"]["ports"]
    low, _, high = str(published).rsplit(":", 1)[0].partition("-")
    assert high and int(high) - int(low) + 1 >= 2, "each API replica needs its own host port"


def test_worker_outlives_the_longest_heartbeat_timeout(compose: dict[str, Any]) -> None:
    worker = _services(compose)["worker"]
    longest = longest_heartbeat_timeout_s()
    grace = float(_env(worker)["LIFECYCLE_WORKER_SHUTDOWN_GRACE_SECONDS"])
    kill = worker["stop_grace_period"]
    assert kill.endswith("s"), kill
    assert grace > longest, f"shutdown grace {grace}s <= heartbeat timeout {longest}s"
    assert int(kill[:-1]) > grace, f"stop_grace_period {kill} <= shutdown grace {grace}s"


def test_temporal_setup_registers_what_the_engine_uses(compose: dict[str, Any]) -> None:
    """The namespace the app connects to, and every custom search attribute the code names
    (`SearchAttributeKey.for_*("Name")`), are the ones the setup registers."""
    services = _services(compose)
    setup = _env(services["temporal-namespace"])
    assert setup["TEMPORAL_NAMESPACE"] == _env(services["api"])["LIFECYCLE_TEMPORAL_NAMESPACE"]
    assert _host_port(setup["TEMPORAL_ADDRESS"]) == \
        _host_port(_env(services["api"])["LIFECYCLE_TEMPORAL_ADDRESS"])
    registered = dict(pair.split("=", 1) for pair in setup["TEMPORAL_SEARCH_ATTRIBUTES"].split())
    used: dict[str, str] = {}
    for package in ("workflows", "clients", "activities", "contracts", "api", "services"):
        for path in (ROOT / package).rglob("*.py"):
            for kind, name in SEARCH_ATTRIBUTE.findall(path.read_text()):
                used[name] = ATTRIBUTE_TYPES[kind]
    assert registered == used, f"registered {registered}, the code uses {used}"


def test_search_attribute_pattern_reads_the_sdk_spelling() -> None:
    text = 'A = SearchAttributeKey.for_keyword("OrgId")\nB = SearchAttributeKey.for_int( "N")'
    assert SEARCH_ATTRIBUTE.findall(text) == [("keyword", "OrgId"), ("int", "N")]


def test_setup_scripts_are_mounted_and_run(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, script in (("temporal-schema", "temporal-schema.sh"),
                         ("temporal-namespace", "temporal-namespace.sh")):
        service = services[name]
        assert service["image"].startswith("temporalio/admin-tools:")
        (mount,) = service["volumes"]
        source, target = str(mount).split(":")[:2]
        assert (ROOT / source).resolve() == ROOT / "deploy" / "compose" / script
        assert service["command"] == [target]
    schema_env = _env(services["temporal-schema"])
    assert schema_env["POSTGRES_SEEDS"] in services
    text = (ROOT / "deploy" / "compose" / "temporal-schema.sh").read_text()
    for kind in ("temporal", "visibility"):
        assert f":{kind}\"" in text, f"the schema script sets up no {kind} schema"
