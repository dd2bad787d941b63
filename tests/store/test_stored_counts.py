"""The stored record counts the plan and the freeze read agree with the rows, write by write."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store import datasets, purge
from store.models import Dataset
from store.plan import owned_counts, stored_counts

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=9, members=2,
                 team_keys=1)


def test_stored_counts_follow_appends_and_purge_batches(session_factory: sessionmaker[Session],
                                                        settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
    with session_factory.begin() as session:
        assert stored_counts(session, org.org_id) == owned_counts(session, org.org_id)
        first = session.scalars(select(Dataset.id).where(Dataset.org_id == org.org_id)
                                .order_by(Dataset.id)).first()
        assert first is not None
        datasets.append_records(session, first, [b'{"a":1}', b'{"a":2}'])
    with session_factory.begin() as session:
        counts = stored_counts(session, org.org_id)
        assert counts == owned_counts(session, org.org_id)
        assert counts["dataset_records"] == 4 * 9 + 2
        upper, size = purge.next_batch(session, first, 0, 5)
        assert upper is not None and size == 5
        assert purge.delete_range(session, first, 0, upper) == 5
    with session_factory() as session:
        counts = stored_counts(session, org.org_id)
        assert counts == owned_counts(session, org.org_id)
        assert counts["dataset_records"] == 4 * 9 + 2 - 5
