"""Every command finds the same embedded database wherever it is run from, and says which."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRINT_URL = "from core.settings import Settings; print(Settings().effective_database_url)"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}


def test_the_default_database_does_not_depend_on_the_working_directory(tmp_path: Path) -> None:
    urls = set()
    for cwd in (REPO, tmp_path, tmp_path / "deeper"):
        cwd.mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, "-c", PRINT_URL], cwd=cwd, env=_clean_env(),
                              capture_output=True, text=True, check=True)
        urls.add(done.stdout.strip())
    assert urls == {f"sqlite:///{REPO / '.lifecycle' / 'lifecycle.db'}"}


def test_db_upgrade_says_which_database_it_migrated(tmp_path: Path) -> None:
    env = dict(_clean_env(), LIFECYCLE_DATA_DIR=str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    done = subprocess.run([sys.executable, "-m", "lifecycle.cli", "db", "upgrade"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"database sqlite:///{tmp_path / 'data' / 'lifecycle.db'} at revision head" \
        in done.stdout
