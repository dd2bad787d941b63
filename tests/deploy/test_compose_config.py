"""docker-compose.yml as compose itself reads it: Debian's `docker-compose` parses, interpolates
and validates the file against the compose schema without a Docker engine.

Why: the YAML-level wiring tests read the file as data; only compose knows its schema (a
misplaced key, a wrong `depends_on` condition) and how `${VAR:?message}` behaves. `./test`
installs the package when it is missing, so this never depends on a hand-prepared machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy_support import COMPOSE, ROOT

REQUIRED_ENV = {"POSTGRES_PASSWORD": "compose-config-password",
                "LIFECYCLE_KEY_PEPPER": "compose-config-pepper-0123456789abcdef",
                "LIFECYCLE_WEBHOOK_SECRET_KEY": "compose-config-webhook-key-0123456789ab"}


def _compose(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed: ./test installs Debian's package " \
                   "(apt-get install docker-compose)"
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    # Only PATH and what the test gives: an operator's exported variables or .env must not
    # decide the outcome.
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env}
    return subprocess.run([binary, "--env-file", str(empty_env_file), "--project-directory",
                           str(ROOT), "-f", str(COMPOSE), "config"],
                          capture_output=True, text=True, timeout=120, env=clean, cwd=tmp_path,
                          check=False)


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    answer = _compose(tmp_path_factory.mktemp("compose"), REQUIRED_ENV)
    assert answer.returncode == 0, answer.stderr
    loaded: dict[str, Any] = yaml.safe_load(answer.stdout)
    return loaded


def test_compose_accepts_the_file(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert {"postgres", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
            "migrate", "api", "worker"} <= set(services)
    env = services["api"]["environment"]
    assert env["LIFECYCLE_KEY_PEPPER"] == REQUIRED_ENV["LIFECYCLE_KEY_PEPPER"]
    assert REQUIRED_ENV["POSTGRES_PASSWORD"] in env["LIFECYCLE_DATABASE_URL"]
    assert services["temporal"]["environment"]["POSTGRES_PWD"] == REQUIRED_ENV["POSTGRES_PASSWORD"]


def test_bind_mounted_setup_scripts_exist(resolved: dict[str, Any]) -> None:
    for name in ("temporal-schema", "temporal-namespace"):
        for volume in resolved["services"][name]["volumes"]:
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            assert Path(source).is_file(), f"{name}: {source} does not exist"


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_a_missing_secret_stops_compose_naming_it(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in REQUIRED_ENV.items() if k != missing}
    answer = _compose(tmp_path, env)
    assert answer.returncode != 0, f"compose started without {missing}"
    assert f"set {missing}" in answer.stderr, answer.stderr
