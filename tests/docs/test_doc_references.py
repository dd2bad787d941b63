"""Every source file and test the docs name exists, so a moved or renamed one cannot leave the
docs pointing at nothing (docs/architecture.md names the test of each rule the engine keeps)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("core", "contracts", "store", "activities", "workflows", "clients", "services",
            "api", "lifecycle", "bench", "tests")
REFERENCE = re.compile(r"\b((?:" + "|".join(PACKAGES) + r")/[\w/]+\.py)(?:::(\w+))?")


def references(text: str) -> set[tuple[str, str | None]]:
    return {(m.group(1), m.group(2)) for m in REFERENCE.finditer(text)}


def top_level_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def broken(root: Path, refs: set[tuple[str, str | None]]) -> list[str]:
    missing = []
    for path, name in sorted(refs, key=lambda r: (r[0], r[1] or "")):
        if not (root / path).is_file():
            missing.append(path)
        elif name and name not in top_level_functions(root / path):
            missing.append(f"{path}::{name}")
    return missing


def test_every_named_file_and_test_exists() -> None:
    refs: set[tuple[str, str | None]] = set()
    for page in PAGES:
        refs |= references(page.read_text(encoding="utf-8"))
    assert len({path for path, _ in refs if path.startswith("tests/")}) >= 10
    assert broken(ROOT, refs) == []


def test_a_missing_file_or_test_is_reported() -> None:
    text = ("`tests/docs/test_doc_references.py::test_every_named_file_and_test_exists`, "
            "`tests/docs/test_doc_references.py::no_such_test`, `core/no_such_module.py`")
    assert broken(ROOT, references(text)) == [
        "core/no_such_module.py", "tests/docs/test_doc_references.py::no_such_test"]
