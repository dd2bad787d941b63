"""The erasure ledger: the signed deletion certificates, kept outside the main database.

Why: restoring yesterday's backup today brings back an org deleted this morning, with its data,
and its certificate is gone with the restore too. A directory of certificates on other storage
survives the restore; `lifecycle erasures reapply` reads it and deletes such orgs again. One
file per org (`<org_id>.json`, the signed document as issued), written before the teardown
completes and never removed by the product; a write replaces the file atomically, so a reader
sees the old document or the new one, never a part.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUFFIX = ".json"


def record(directory: Path, org_id: str, document: bytes) -> Path:
    """Write the org's entry (synced to disk before it takes its name)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{org_id}{SUFFIX}"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(document)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def entries(directory: Path) -> Iterator[tuple[str, bytes]]:
    """(org id, document) of every entry, in org id order."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        if not path.name.startswith("."):
            yield path.name[:-len(SUFFIX)], path.read_bytes()
