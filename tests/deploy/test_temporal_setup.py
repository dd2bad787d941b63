"""The compose stack's namespace setup script, run for real against the dev server.

Why: the script runs once per `docker compose up`, inside `temporalio/admin-tools`, with the
same `temporal` CLI the dev server package ships; a wrong flag or a non-idempotent step would
only show on an operator's second start. The dev server speaks the server version compose runs
(tests/deploy/test_versions.py), so the script is proven here against that server.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from core.binaries import temporal_cli
from tests.support.deploy_support import ROOT

SCRIPT = ROOT / "deploy" / "compose" / "temporal-namespace.sh"
SCHEMA_SCRIPT = ROOT / "deploy" / "compose" / "temporal-schema.sh"

pytestmark = pytest.mark.slow


def _run(address: str, namespace: str, retention: str, attributes: str, attempts: int = 10
         ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TEMPORAL_ADDRESS=address, TEMPORAL_NAMESPACE=namespace,
               TEMPORAL_NAMESPACE_RETENTION=retention, TEMPORAL_SEARCH_ATTRIBUTES=attributes,
               TEMPORAL_SETUP_ATTEMPTS=str(attempts),
               PATH=f"{Path(temporal_cli()).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, timeout=120,
                          env=env, check=False)


async def _state(env: WorkflowEnvironment, namespace: str) -> tuple[float, dict[str, int]]:
    service = env.client.workflow_service
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    retention = described.config.workflow_execution_retention_ttl.ToTimedelta().total_seconds()
    listed = await env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace))
    return retention, dict(listed.custom_attributes)


async def test_registers_namespace_and_attributes_and_runs_again(
        local_temporal: WorkflowEnvironment) -> None:
    address = local_temporal.client.service_client.config.target_host
    namespace = f"setup-{uuid.uuid4().hex[:8]}"

    first = _run(address, namespace, "48h", "LifecycleOrg=Keyword LifecycleStep=Text")
    assert first.returncode == 0, first.stdout + first.stderr
    retention, custom = await _state(local_temporal, namespace)
    assert retention == 48 * 3600
    assert custom["LifecycleOrg"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert custom["LifecycleStep"] == IndexedValueType.INDEXED_VALUE_TYPE_TEXT

    again = _run(address, namespace, "720h", "LifecycleOrg=Keyword LifecycleStep=Text")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"namespace {namespace} exists" in again.stdout
    assert "search attribute LifecycleOrg exists" in again.stdout
    retention, custom = await _state(local_temporal, namespace)
    assert retention == 720 * 3600, "a changed retention was not applied"
    assert set(custom) >= {"LifecycleOrg", "LifecycleStep"}


def test_gives_up_on_an_unreachable_frontend() -> None:
    """Exit non-zero with a message, so compose reports the setup failed instead of starting
    the app against a namespace that does not exist."""
    answer = _run("127.0.0.1:9", "unreachable", "24h", "", attempts=2)
    assert answer.returncode != 0
    assert "is not serving" in answer.stderr


@pytest.mark.parametrize("script", [SCRIPT, SCHEMA_SCRIPT], ids=lambda p: p.name)
def test_scripts_are_posix_sh(script: Path) -> None:
    """admin-tools runs them with /bin/sh: no bashisms that `sh -n` refuses."""
    answer = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True,
                            timeout=30, check=False)
    assert answer.returncode == 0, answer.stderr


@pytest.mark.parametrize("missing", ["POSTGRES_SEEDS", "POSTGRES_USER", "SQL_PASSWORD"])
def test_schema_script_refuses_to_run_without_its_settings(missing: str) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "POSTGRES_SEEDS": "db", "POSTGRES_USER": "u",
           "SQL_PASSWORD": "p"}
    del env[missing]
    answer = subprocess.run(["sh", str(SCHEMA_SCRIPT)], capture_output=True, text=True,
                            timeout=30, env=env, check=False)
    assert answer.returncode != 0
    assert f"set {missing}" in answer.stderr
