"""What the deployment tests read: pyproject, the locks, the compose file, the Kubernetes manifests.

Why one module: the version, lock, compose and manifest tests each compare two of these files,
and reading them one way (the way pip, compose and kubectl read them) keeps every test about
the comparison rather than the parsing.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
RUNTIME_LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"
K8S = ROOT / "deploy" / "k8s"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


def temporal_versions() -> dict[str, str]:
    """`[tool.lifecycle.temporal]`: the one place that names the Temporal versions."""
    table: dict[str, str] = pyproject()["tool"]["lifecycle"]["temporal"]
    return table


def declared_requirements(*extras: str) -> list[Requirement]:
    """pyproject's dependencies, plus those of the given extras."""
    project = pyproject()["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str
    hashes: int


def locked(path: Path) -> dict[str, list[Pin]]:
    """A lock's pins by canonical name; a universal lock may pin one name twice under markers."""
    pins: dict[str, list[Pin]] = {}
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        match = _PIN.match(line)
        if not match:
            continue
        hashes = 0
        for follow in lines[index + 1:]:
            if not follow.startswith("    --hash="):
                break
            hashes += 1
        name = canonicalize_name(match.group(1))
        pins.setdefault(name, []).append(
            Pin(name, match.group(2), (match.group(3) or "").strip(), hashes))
    return pins


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under deploy/k8s/ (kustomization and Helm values excepted)."""
    for path in sorted(K8S.glob("*.yaml")):
        if path.name in {"kustomization.yaml"} or path.name.endswith("-values.yaml"):
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    """Objects by (kind, name)."""
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in k8s_documents()}


def image_tag(image: str) -> tuple[str, str]:
    """`repo:tag` (a digest after the tag is ignored) as (repo, tag)."""
    image = image.split("@", 1)[0]
    repo, _, tag = image.rpartition(":")
    return repo, tag


_TIMEDELTA_HEARTBEAT = re.compile(
    r"heartbeat_timeout\s*=\s*timedelta\(\s*(seconds|minutes)\s*=\s*(\d+(?:\.\d+)?)\s*\)")


def longest_heartbeat_timeout_s() -> float:
    """The longest activity heartbeat timeout the workflows set: the defaults of every
    `*heartbeat_timeout*` field of the contracts' dataclasses, and every literal
    `heartbeat_timeout=timedelta(...)` in workflows/ (policies.py included)."""
    import dataclasses
    import importlib
    import pkgutil

    import contracts

    found: list[float] = []
    for module_info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"contracts.{module_info.name}")
        for value in vars(module).values():
            if not (isinstance(value, type) and dataclasses.is_dataclass(value)):
                continue
            for field in dataclasses.fields(value):
                if "heartbeat_timeout" in field.name and isinstance(field.default, int | float):
                    found.append(float(field.default))
    for path in (ROOT / "workflows").glob("*.py"):
        for unit, amount in _TIMEDELTA_HEARTBEAT.findall(path.read_text()):
            found.append(float(amount) * (60 if unit == "minutes" else 1))
    assert found, "no heartbeat timeout found in contracts/ or workflows/"
    return max(found)


def measured_peak_rss_mb(process: str) -> float:
    """The highest peak in docs/benchmarks.md's `<process> RSS idle / peak` table columns."""
    peaks: list[float] = []
    column: int | None = None
    for line in (ROOT / "docs" / "benchmarks.md").read_text().splitlines():
        if not line.startswith("|"):
            column = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        header = f"{process} RSS idle / peak"
        if header in cells:
            column = cells.index(header)
            continue
        if column is not None and column < len(cells):
            figure = re.fullmatch(r"(\d+) / (\d+) MB", cells[column])
            if figure:
                peaks.append(float(figure.group(2)))
    assert peaks, f"docs/benchmarks.md has no '{process} RSS idle / peak' figures"
    return max(peaks)
