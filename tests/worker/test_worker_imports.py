"""`worker.py` sits beside the API at the top of the layers: it may use everything below
(clients, workflows, activities, store, contracts, core) but neither the command line nor the
API. import-linter checks packages, and `worker.py` is a single module, so this reads its
imports from the source, wherever they stand (a function-level import counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

WORKER = Path(__file__).resolve().parents[2] / "worker.py"
ABOVE_THE_WORKER = ("lifecycle", "api")


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_worker_imports_neither_the_command_line_nor_the_api() -> None:
    modules = imported_modules(WORKER.read_text())
    # The worker does register the workflows and activities: an empty set would mean the
    # parse found nothing, not that the layering holds.
    assert {"activities", "workflows"} <= {_top(m) for m in modules}
    offending = sorted(m for m in modules if _top(m) in ABOVE_THE_WORKER)
    assert offending == []


def test_the_check_sees_imports_at_any_depth() -> None:
    source = ("import api.app\n"
              "def main() -> None:\n"
              "    from lifecycle.cli import main as cli\n")
    assert {_top(m) for m in imported_modules(source)} == {"api", "lifecycle"}
