"""Deletion targets: every data store that holds an org's data says, once, how it is deleted.

Why: the ownership registry (`store/ownership.py`) proves a teardown left no row in this
engine's own tables, but an org's data also lives elsewhere (dataset files in object storage,
resources behind a control plane). A store becomes part of every teardown and project deletion
by implementing the protocol below and registering with `@deletion_target(name)`:

- `enumerate(scope, cursor, limit)`: the next page of the scope's units (an object, a
  resource), each with its size, from `cursor` on; `cursor` of the page is where the next
  one starts, None at the end;
- `delete(scope, units)`: delete those units; idempotent (a unit already gone is no error),
  so a retried page after a crash does no harm;
- `verify(scope)`: what is still held for the scope, per kind, zero counts included: the
  verifier's proof, never read from a stored number;
- `count(scope)`: what the scope holds now, per kind (the freeze snapshots it, the
  certificate reports it).

`tests/store/test_targets.py` fails when a registered target lacks one of them. The purge of a
target runs in one heartbeating activity per project (activities/targets.py), which records
each unit in the teardown ledger before deleting it, so its counts are exact across crashes.
The relational store is the first target: its units are projects, deleted by the purge's own
activity (`purge_project`, records in keyset batches); the others share `purge_target`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Project
from store.plan import owned_counts, stored_counts
from store.project_deletions import project_rows
from store.project_deletions import stored_counts as project_stored_counts

T = TypeVar("T")

# What every target must implement: the registry test checks each registered class for them.
REQUIRED: tuple[str, ...] = ("enumerate", "delete", "verify", "count")


@dataclass(frozen=True)
class Scope:
    """An org, or one project of it (`project_id` set)."""

    org_id: str
    project_id: str = ""


@dataclass(frozen=True)
class Unit:
    """One deletable thing of a target, by a key unique within its scope, and its size."""

    key: str
    size: int = 0


@dataclass(frozen=True)
class Page:
    units: list[Unit]
    cursor: str | None  # where the next page starts; None when this was the last


@runtime_checkable
class DeletionTarget(Protocol):
    name: ClassVar[str]
    # The activity that purges one project with this target (see the module docstring).
    activity: ClassVar[str]
    # How its counts name a unit and the sum of their sizes (e.g. "objects", "bytes").
    units_kind: ClassVar[str]
    size_kind: ClassVar[str]

    def enumerate(self, scope: Scope, cursor: str, limit: int) -> Page: ...

    def delete(self, scope: Scope, units: Sequence[Unit]) -> None: ...

    def verify(self, scope: Scope) -> dict[str, int]: ...

    def count(self, scope: Scope) -> dict[str, int]: ...


TARGETS: dict[str, type[Any]] = {}


def deletion_target(name: str) -> Callable[[type[T]], type[T]]:
    """Register a class as the deletion target `name` (its counts are reported as `name.kind`,
    except the relational store's, which keep their table names)."""

    def register(cls: type[T]) -> type[T]:
        if name in TARGETS:
            raise ValueError(f"deletion target {name!r} registered twice")
        cls.name = name  # type: ignore[attr-defined]
        TARGETS[name] = cls
        return cls

    return register


def missing_parts(cls: type[Any]) -> list[str]:
    """The parts of the protocol `cls` does not implement (callable methods), in order."""
    return [part for part in REQUIRED if not callable(getattr(cls, part, None))]


def reported(target: str, counts: dict[str, int]) -> dict[str, int]:
    """A target's counts as the certificate and the verifier name them: `target.kind`."""
    if target == RelationalTarget.name:
        return dict(counts)
    return {f"{target}.{kind}": n for kind, n in counts.items()}


@deletion_target("relational")
class RelationalTarget:
    """The engine's own tables, through the ownership registry.

    Units are projects; the org's other rows (keys, members, billing) go in the teardown's
    own one-transaction steps. Deleting a project is `purge_project` (activities/purge.py),
    which heartbeats inside the project; `delete` here is for callers without an activity.
    """

    name: ClassVar[str]
    activity: ClassVar[str] = "purge_project"
    units_kind: ClassVar[str] = "projects"
    size_kind: ClassVar[str] = "records"

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def enumerate(self, scope: Scope, cursor: str, limit: int) -> Page:
        with self.sessions() as session:
            query = select(Project.id).where(Project.org_id == scope.org_id,
                                             Project.id > cursor)
            if scope.project_id:
                query = query.where(Project.id == scope.project_id)
            ids = list(session.scalars(query.order_by(Project.id).limit(limit)))
        return Page([Unit(pid) for pid in ids], ids[-1] if len(ids) == limit else None)

    def delete(self, scope: Scope, units: Sequence[Unit]) -> None:
        from store.purge import erase_project, purge_records

        for unit in units:
            with self.sessions.begin() as session:
                purge_records(session, unit.key)
                erase_project(session, unit.key)

    def verify(self, scope: Scope) -> dict[str, int]:
        with self.sessions() as session:
            if scope.project_id:
                return project_rows(session, scope.project_id)
            return owned_counts(session, scope.org_id)

    def count(self, scope: Scope) -> dict[str, int]:
        with self.sessions() as session:
            if scope.project_id:
                return project_stored_counts(session, scope.project_id)
            return stored_counts(session, scope.org_id)
