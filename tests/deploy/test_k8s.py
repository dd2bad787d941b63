"""The Kubernetes manifests, validated offline and checked against the code they run.

Why: no cluster runs here, so a manifest is proven only by its schema (kubernetes-validate ships
the API server's OpenAPI schemas) and by comparing it with what the application really does: the
health routes it serves, the settings it reads, the heartbeat timeouts its workflows set, the
memory it was measured to use, the user the image runs as.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from api.app import create_app
from core.settings import Settings
from tests.support.deploy_support import (
    DOCKERFILE,
    K8S,
    k8s_documents,
    k8s_objects,
    longest_heartbeat_timeout_s,
    measured_peak_rss_mb,
)

# The oldest Kubernetes the manifests promise to run on, and the newest the package knows.
OLDEST = "1.30"
SECRET_SETTINGS = {"LIFECYCLE_DATABASE_URL"} | {
    f"LIFECYCLE_{name.upper()}" for name, field in Settings.model_fields.items()
    if field.annotation is SecretStr}
SETTINGS = {f"LIFECYCLE_{name.upper()}" for name in Settings.model_fields}
QUANTITY = re.compile(r"^(\d+)(Mi|Gi)$")


def _mib(quantity: str) -> int:
    """A memory quantity in MiB (the benchmarks' "MB" are VmHWM / 1024: MiB too)."""
    match = QUANTITY.match(quantity)
    assert match, f"memory {quantity} is not in Mi or Gi"
    return int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return containers


def _workloads() -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_documents() if doc["kind"] in {"Deployment", "Job"}]


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    return k8s_objects()


@pytest.fixture(scope="module")
def settings_map(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = objects[("ConfigMap", "lifecycle-settings")]["data"]
    return data


@pytest.mark.parametrize("version", [OLDEST, kubernetes_validate.latest_version()])
def test_every_manifest_validates_strictly(version: str) -> None:
    """Strict: an unknown field (a typo, a field of a newer API) is an error, not ignored."""
    docs = list(k8s_documents())
    assert len(docs) >= 7
    for path, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {where}: "
                        f"{exc.message}")


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {path.name for path, _ in k8s_documents()}
    assert listed == on_disk
    assert kustomization["namespace"] == "org-lifecycle"
    images = {image["name"] for image in kustomization["images"]}
    for workload in _workloads():
        for container in _containers(workload):
            assert container["image"] in images, f"{workload['metadata']['name']}: image " \
                f"{container['image']} is not set by the kustomization"


def test_api_probes_are_routes_the_app_serves(objects: dict[tuple[str, str], dict[str, Any]]
                                              ) -> None:
    api = objects[("Deployment", "lifecycle-api")]
    (container,) = _containers(api)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    served = set(create_app(Settings()).openapi()["paths"])
    assert {"/readyz", "/healthz"} <= served
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[container["readinessProbe"]["httpGet"]["port"]] == 8000
    command = container["command"]
    assert command[command.index("--port") + 1] == "8000"
    assert api["spec"]["replicas"] >= 2


def test_service_and_disruption_budgets_select_their_pods(
        objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    api_labels = objects[("Deployment", "lifecycle-api")]["spec"]["template"]["metadata"]["labels"]
    service = objects[("Service", "lifecycle-api")]["spec"]
    assert service["selector"].items() <= api_labels.items()
    (container,) = _containers(objects[("Deployment", "lifecycle-api")])
    assert {p["targetPort"] for p in service["ports"]} <= {p["name"] for p in container["ports"]}
    for name in ("lifecycle-api", "lifecycle-worker"):
        labels = objects[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]
        pdb = objects[("PodDisruptionBudget", name)]["spec"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items()
        deployment = objects[("Deployment", name)]["spec"]
        assert deployment["selector"]["matchLabels"].items() <= labels.items()
    assert objects[("PodDisruptionBudget", "lifecycle-api")]["spec"]["minAvailable"] >= 1


def test_worker_outlives_the_longest_heartbeat_timeout(
        objects: dict[tuple[str, str], dict[str, Any]], settings_map: dict[str, str]) -> None:
    """A worker killed mid-activity leaves that activity to wait out its heartbeat timeout
    before another worker retries it; the shutdown grace lets it finish instead, and the
    kill must come after that grace."""
    longest = longest_heartbeat_timeout_s()
    assert longest >= 120, "the sweep's page heartbeat timeout (120 s) was not found"
    grace = float(settings_map["LIFECYCLE_WORKER_SHUTDOWN_GRACE_SECONDS"])
    kill = objects[("Deployment", "lifecycle-worker")]["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"]
    assert grace > longest, f"shutdown grace {grace}s <= heartbeat timeout {longest}s"
    assert kill > grace, f"terminationGracePeriodSeconds {kill} <= shutdown grace {grace}s"
    (container,) = _containers(objects[("Deployment", "lifecycle-worker")])
    assert container["command"] == ["lifecycle", "worker"]
    metrics_port = int(settings_map["LIFECYCLE_WORKER_METRICS_ADDRESS"].rsplit(":", 1)[1])
    assert {p["containerPort"] for p in container["ports"]} == {metrics_port}


def test_migration_job_runs_the_upgrade(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    job = objects[("Job", "lifecycle-migrate")]
    (container,) = _containers(job)
    assert container["command"] == ["lifecycle", "db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}


def test_settings_come_from_the_config_map_and_secrets_from_the_secret(
        settings_map: dict[str, str]) -> None:
    assert set(settings_map) <= SETTINGS, f"not settings: {sorted(set(settings_map) - SETTINGS)}"
    assert not set(settings_map) & SECRET_SETTINGS, "a secret setting sits in the ConfigMap"
    assert Settings.model_validate({k[len("LIFECYCLE_"):].lower(): v
                                    for k, v in settings_map.items()})
    for path, doc in k8s_documents():
        assert doc["kind"] != "Secret", f"{path.name}: a Secret with values is committed"
    for workload in _workloads():
        for container in _containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            refs = {(next(iter(ref)), next(iter(ref.values()))["name"])
                    for ref in container["envFrom"]}
            assert refs == {("configMapRef", "lifecycle-settings"),
                            ("secretRef", "lifecycle-secrets")}, where
            inline = [e["name"] for e in container.get("env", []) if "value" in e]
            assert not inline, f"{where}: inline values {inline}"


def test_temporal_settings_point_at_the_helm_release(settings_map: dict[str, str]) -> None:
    values = yaml.safe_load((K8S / "temporal-values.yaml").read_text())
    namespaces = {ns["name"] for ns in values["server"]["config"]["namespaces"]["namespace"]}
    assert values["server"]["config"]["namespaces"]["create"] is True
    assert settings_map["LIFECYCLE_TEMPORAL_NAMESPACE"] in namespaces
    host, port = settings_map["LIFECYCLE_TEMPORAL_ADDRESS"].rsplit(":", 1)
    # Release `temporal` in namespace `temporal`: the chart names the frontend <release>-frontend.
    assert host.split(".")[:2] == ["temporal-frontend", "temporal"], host
    assert int(port) == 7233
    stores = values["server"]["config"]["persistence"]["datastores"]
    for store in stores.values():
        assert store["sql"]["pluginName"] == "postgres12"
        assert "password" not in store["sql"], "the Temporal database password is inline"


def test_pods_run_as_the_image_user_without_privileges() -> None:
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert user, "the Dockerfile runs as no numeric user"
    for workload in _workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(user.group(1))
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize(("deployment", "process"), [("lifecycle-api", "API"),
                                                     ("lifecycle-worker", "worker")])
def test_memory_follows_the_measured_peak(objects: dict[tuple[str, str], dict[str, Any]],
                                          deployment: str, process: str) -> None:
    """The request covers the measured peak with a quarter to spare, the limit twice it:
    a figure in docs/benchmarks.md that grows past them fails here, not in production."""
    peak = measured_peak_rss_mb(process)
    (container,) = _containers(objects[("Deployment", deployment)])
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])
    assert _mib(resources["requests"]["memory"]) >= 1.25 * peak
    assert _mib(resources["limits"]["memory"]) >= 2 * peak


def test_every_container_has_requests_and_limits() -> None:
    for workload in _workloads():
        for container in _containers(workload):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), workload["metadata"]["name"]
            assert {"cpu", "memory"} <= set(resources["limits"]), workload["metadata"]["name"]


def test_values_file_is_not_taken_for_a_manifest() -> None:
    names = {path.name for path, _ in k8s_documents()}
    assert "temporal-values.yaml" not in names and "kustomization.yaml" not in names
    assert Path(K8S / "temporal-values.yaml").exists()
