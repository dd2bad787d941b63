"""The deletion-target registry: every registered target implements the whole protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.target_set import registered
from store.targets import (
    REQUIRED,
    TARGETS,
    Page,
    RelationalTarget,
    Scope,
    Unit,
    deletion_target,
    missing_parts,
    reported,
)


def test_every_registered_target_enumerates_deletes_verifies_and_counts() -> None:
    targets = registered()
    assert {"relational", "object_storage", "control_plane"} <= set(targets)
    incomplete = {name: missing_parts(cls) for name, cls in targets.items()
                  if missing_parts(cls)}
    assert incomplete == {}, f"registered deletion targets lacking parts: {incomplete}"
    for name, cls in targets.items():
        assert cls.name == name
        assert cls.activity in ("purge_project", "purge_target")
        assert cls.units_kind and cls.size_kind


class _NoVerifier:
    name: ClassVar[str]
    activity: ClassVar[str] = "purge_target"
    units_kind: ClassVar[str] = "things"
    size_kind: ClassVar[str] = "bytes"

    def enumerate(self, scope: Scope, cursor: str, limit: int) -> Page:
        return Page([], None)

    def delete(self, scope: Scope, units: Sequence[Unit]) -> None:
        return None

    def count(self, scope: Scope) -> dict[str, int]:
        return {}


def test_a_registered_target_without_a_verifier_fails_the_registry_check() -> None:
    """The check above can fail: a target registered without `verify` is named, and so is one
    whose part is not callable."""
    try:
        deletion_target("test_no_verifier")(_NoVerifier)
        assert missing_parts(TARGETS["test_no_verifier"]) == ["verify"]
        incomplete = {n: missing_parts(c) for n, c in registered().items() if missing_parts(c)}
        assert incomplete == {"test_no_verifier": ["verify"]}
    finally:
        TARGETS.pop("test_no_verifier", None)
    shaped: Any = type("Broken", (), {part: None for part in REQUIRED})
    assert missing_parts(shaped) == list(REQUIRED)


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="twice"):
        deletion_target("relational")(_NoVerifier)
    assert TARGETS["relational"] is RelationalTarget


def test_counts_are_named_by_target_the_database_keeps_table_names() -> None:
    assert reported("object_storage", {"objects": 3, "bytes": 9}) == {
        "object_storage.objects": 3, "object_storage.bytes": 9}
    assert reported("relational", {"projects": 1}) == {"projects": 1}


def test_the_relational_target_pages_counts_deletes_and_verifies_projects(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    shape = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=7,
                     project_keys_per_project=1)
    with session_factory.begin() as session:
        org = seed_org(session, shape, settings.pepper_bytes)
        other = seed_org(session, shape, settings.pepper_bytes)
    target = RelationalTarget(session_factory)
    scope = Scope(org.org_id)
    first = target.enumerate(scope, "", 2)
    rest = target.enumerate(scope, first.cursor or "", 2)
    assert [u.key for u in first.units + rest.units] == sorted(org.project_ids)
    assert first.cursor is not None and rest.cursor is None
    assert target.count(scope) == org.counts
    project = Scope(org.org_id, org.project_ids[0])
    assert target.count(project)["dataset_records"] == 14
    target.delete(project, target.enumerate(project, "", 10).units)
    assert set(target.verify(project).values()) == {0}
    left = target.verify(scope)
    assert left["projects"] == 2 and left["dataset_records"] == 2 * 14
    assert target.verify(Scope(other.org_id)) == other.counts
