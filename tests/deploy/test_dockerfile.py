"""The image, checked without building it (no Docker engine runs here).

Why: the image is what production runs, so its base must not float (`python:3.11-slim` moves
under a rebuild), its dependencies must be exactly the lock's (hashes checked, nothing resolved
at build time), it must run as a numeric non-root user (Kubernetes' runAsNonRoot can only verify
a number), and the build context must still hold every package the wheel needs.
"""

from __future__ import annotations

import fnmatch
import re

from tests.support.deploy_support import DOCKERFILE, ROOT, pyproject

TEXT = DOCKERFILE.read_text()
ARGS = dict(re.findall(r"^ARG (\w+)=(\S+)$", TEXT, re.MULTILINE))


def _resolve(value: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: ARGS[m.group(1)], value)


def _stages() -> list[str]:
    return [_resolve(line.split()[1]) for line in TEXT.splitlines() if line.startswith("FROM ")]


def test_base_image_is_pinned_to_a_patch_release() -> None:
    stages = _stages()
    assert len(stages) == 2, "a build stage and a runtime stage"
    assert len(set(stages)) == 1, f"the stages use different bases: {stages}"
    base = stages[0]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base


def test_dependencies_install_from_the_lock_only() -> None:
    install = re.search(r"pip install (.*)-r requirements\.lock", TEXT)
    assert install, "the image does not install requirements.lock"
    assert "--require-hashes" in install.group(1) and "--no-deps" in install.group(1)
    project = re.findall(r"pip install (.*)/wheels/\*\.whl", TEXT)
    assert project and all("--no-deps" in flags for flags in project), \
        "the project's wheel may pull unlocked dependencies"
    assert "COPY requirements.lock" in TEXT


def test_runs_as_a_numeric_unprivileged_user() -> None:
    runtime = TEXT[TEXT.rindex("\nFROM "):]
    user = re.search(r"^USER (\d+):(\d+)$", runtime, re.MULTILINE)
    assert user, "the runtime stage names no numeric USER"
    assert int(user.group(1)) != 0 and int(user.group(2)) != 0
    assert f"--uid {user.group(1)}" in runtime, "the user is not created with that uid"
    assert runtime.index("USER ") > runtime.index("COPY --from=build"), \
        "files copied after USER would be owned by root anyway, but the order should say so"


def test_build_context_keeps_every_source_the_wheel_needs() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(name: str) -> bool:
        return any(fnmatch.fnmatch(name, p.removeprefix("**/")) for p in patterns)

    packages = pyproject()["tool"]["importlinter"]["root_packages"]
    needed = [*packages, *pyproject()["tool"]["setuptools"]["py-modules"]]
    for name in needed:
        path = name if (ROOT / name).is_dir() else f"{name}.py"
        assert (ROOT / path).exists(), path
        assert not ignored(path), f".dockerignore drops {path}, which the wheel needs"
    for name in ("pyproject.toml", "README.md", "requirements.lock"):
        assert not ignored(name), f".dockerignore drops {name}"
    for name in (".venv", ".git", "tests", ".lifecycle", ".env"):
        assert ignored(name), f"{name} would be sent to the build"
