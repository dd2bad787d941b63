"""The locks: exact versions with hashes, complete, and true to pyproject.toml.

Why: `./run`, `./test`, CI and the image install from these files, so what runs is what was
tested. Other work adds dependencies to pyproject.toml all the time; these tests say, in one
line, when the lock no longer covers them (run `./lock`), instead of an import error somewhere
or, worse, a production image built without the package.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.deploy_support import (
    DOCKERFILE,
    ROOT,
    RUNTIME_LOCK,
    TEST_LOCK,
    Pin,
    declared_requirements,
    locked,
)

REFRESH = "run ./lock"
REINSTALL = ".venv/bin/pip install --require-hashes -r requirements-test.lock"
# A universal lock is resolved for every platform; these are the ones the project runs on.
PLATFORMS = [
    {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
     "os_name": "posix", "implementation_name": "cpython",
     "platform_python_implementation": "CPython", "python_version": "3.11",
     "python_full_version": "3.11.14"},
    {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
     "os_name": "posix", "implementation_name": "cpython",
     "platform_python_implementation": "CPython", "python_version": "3.11",
     "python_full_version": "3.11.14"},
]


def _applies(pin: Pin, env: dict[str, str]) -> bool:
    return not pin.marker or Marker(pin.marker).evaluate(env)


LOCKS = {RUNTIME_LOCK: (), TEST_LOCK: ("test",)}


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda p: p.name)
def test_lock_satisfies_every_declared_dependency(lock: Path) -> None:
    pins = locked(lock)
    for requirement in declared_requirements(*LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock.name} lacks {requirement}: {REFRESH}"
        for env in PLATFORMS:
            if requirement.marker and not requirement.marker.evaluate(env):
                continue
            versions = [p.version for p in pins[name] if _applies(p, env)]
            assert versions, f"{lock.name} pins {name} for no {env['platform_machine']}"
            for version in versions:
                assert requirement.specifier.contains(version, prereleases=True), \
                    f"{lock.name} pins {name}=={version}, pyproject wants {requirement}: {REFRESH}"


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda p: p.name)
def test_every_pin_is_exact_and_hashed(lock: Path) -> None:
    text = lock.read_text()
    pins = [p for group in locked(lock).values() for p in group]
    assert len(pins) >= 20
    for pin in pins:
        assert pin.hashes >= 1, f"{lock.name}: {pin.name} has no hash"
    requirement_lines = [line for line in text.splitlines()
                         if line and not line.startswith((" ", "#", "-"))]
    assert len(requirement_lines) == len(pins), "a requirement line is not an exact pin"
    assert "-e " not in text and "file://" not in text, "the lock names a local path"


def test_test_lock_agrees_with_the_runtime_lock() -> None:
    """The tests run the very versions the image ships."""
    runtime, test = locked(RUNTIME_LOCK), locked(TEST_LOCK)
    for name, pins in runtime.items():
        assert name in test, f"{TEST_LOCK.name} lacks {name}: {REFRESH}"
        assert {p.version for p in pins} == {p.version for p in test[name]}, \
            f"{name}: {RUNTIME_LOCK.name} and {TEST_LOCK.name} disagree: {REFRESH}"


def test_the_installed_environment_is_the_test_lock() -> None:
    """What `./test` just ran on is what the lock says (the stamp can hide a hand install)."""
    from importlib.metadata import PackageNotFoundError, version

    env = dict(PLATFORMS[0], platform_machine=platform.machine())
    for name, pins in locked(TEST_LOCK).items():
        applicable = [p for p in pins if _applies(p, env)]
        if not applicable:
            continue
        try:
            installed = version(name)
        except PackageNotFoundError:
            pytest.fail(f"{name} is locked but not installed: {REINSTALL}")
        assert installed in {p.version for p in applicable}, \
            f"{name} {installed} installed, {applicable[0].version} locked: {REINSTALL}, " \
            f"or add what moved it to pyproject.toml and {REFRESH}"


def test_every_installer_reads_a_lock() -> None:
    install = (ROOT / "tools" / "install-venv").read_text()
    assert "--require-hashes" in install
    assert "tools/install-venv requirements.lock" in (ROOT / "run").read_text()
    assert "tools/install-venv requirements-test.lock test" in (ROOT / "test").read_text()
    assert "exec ./test" in (ROOT / ".ci" / "run").read_text()
    assert re.search(r"--require-hashes --no-deps -r requirements\.lock", DOCKERFILE.read_text())
    assert "./lock" in RUNTIME_LOCK.read_text().splitlines()[1], "the lock says how to refresh it"


def test_the_project_itself_is_installed_editable() -> None:
    """The lock holds third-party packages only; the project must come from this tree."""
    import core

    assert Path(core.__file__).resolve().is_relative_to(ROOT)
    assert canonicalize_name("org-lifecycle-engine") not in locked(TEST_LOCK)
    out = subprocess.run([sys.executable, "-m", "pip", "show", "org-lifecycle-engine"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Editable project location" in out and str(ROOT) in out, out


def test_requirement_parsing_matches_pip() -> None:
    """The reader above must see each pin of the lock, or the tests prove nothing."""
    text = RUNTIME_LOCK.read_text()
    names = {canonicalize_name(Requirement(line.split(" \\")[0]).name)
             for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)}
    assert names == set(locked(RUNTIME_LOCK))
