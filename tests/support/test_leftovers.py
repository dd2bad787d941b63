"""The live-schema walk finds what an org holds, so "nothing left" after a teardown means it."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.plan import owned_counts
from tests.support.leftovers import fk_leftovers, id_leftovers


def test_the_walk_finds_every_row_of_a_live_org(engine: Engine,
                                                session_factory: sessionmaker[Session],
                                                settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, OrgShape(projects=2, records_per_dataset=3),
                       settings.pepper_bytes)
        seed_org(session, OrgShape(projects=1), settings.pepper_bytes)  # not counted
    with session_factory() as session:
        registered = {t: n for t, n in owned_counts(session, org.org_id).items() if n}
    assert fk_leftovers(engine, org.org_id) == registered
    found = id_leftovers(engine, [org.org_id, *org.project_ids])
    assert found["organizations.id"] == 1 and found["projects.id"] == 2
    assert found["datasets.project_id"] == 2 * OrgShape().datasets_per_project
