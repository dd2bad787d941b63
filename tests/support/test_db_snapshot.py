"""The fingerprint the fuzz test relies on sees a changed column, not just a changed count."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store.models import Member
from tests.support.db_snapshot import changed, fingerprint


def test_fingerprint_names_the_table_whose_column_changed(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, OrgShape(projects=1), settings.pepper_bytes)
    before = fingerprint(session_factory)
    assert changed(before, fingerprint(session_factory)) == []
    with session_factory.begin() as session:
        session.execute(update(Member).where(Member.id == org.admin_member_id)
                        .values(name="Renamed"))
    assert changed(before, fingerprint(session_factory)) == ["members"]
