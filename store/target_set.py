"""The deletion targets a process runs with: the relational store always, the object store and
the control plane when their settings name them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store.control_plane import ControlPlaneTarget, configured_plane
from store.objects import ObjectStorageTarget, ObjectStore, configured_store
from store.targets import TARGETS, RelationalTarget


def registered() -> dict[str, type[Any]]:
    """Every registered target class, by name (importing this module registers them all)."""
    return dict(TARGETS)


def build_targets(settings: Settings, sessions: sessionmaker[Session],
                  objects: ObjectStore | None = None) -> dict[str, Any]:
    """Target instances by name, the relational store first."""
    targets: dict[str, Any] = {RelationalTarget.name: RelationalTarget(sessions)}
    store = objects or configured_store(settings)
    if store is not None:
        targets[ObjectStorageTarget.name] = ObjectStorageTarget(store)
    plane = configured_plane(settings)
    if plane is not None:
        targets[ControlPlaneTarget.name] = ControlPlaneTarget(plane)
    return targets
