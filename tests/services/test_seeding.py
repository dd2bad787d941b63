"""The seed builds orgs through the same domain operations as the API: the same stored counts,
the same audit events, the same refusals (both databases)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.problems import InvalidInput, OrgFrozen
from core.settings import Settings
from services import datasets, projects
from services.record_input import decode_record
from services.seeding import SEED_ACTOR, OrgShape, seed_org
from store.models import AuditEvent, Dataset, DatasetRecord, OrgStatus
from tests.support.api_support import set_status

SHAPE = OrgShape(projects=3, datasets_per_project=2, records_per_dataset=11, team_keys=2,
                 project_keys_per_project=1, permissions_off=1)


def test_a_seeded_org_looks_like_one_made_through_the_api(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
    with session_factory() as session:
        stored = dict(session.execute(select(Dataset.id, Dataset.record_count)
                                      .where(Dataset.org_id == org.org_id)).all())
        real = dict(session.execute(
            select(DatasetRecord.dataset_id, func.count()).where(
                DatasetRecord.dataset_id.in_(list(stored))).group_by(DatasetRecord.dataset_id))
            .all())
        actions = Counter(session.scalars(select(AuditEvent.action).where(
            AuditEvent.org_id == org.org_id, AuditEvent.actor == SEED_ACTOR)))
        payload = session.scalars(select(DatasetRecord.payload).limit(1)).one()
    assert stored == real and set(stored.values()) == {SHAPE.records_per_dataset}
    assert actions == {"org.created": 1, "member.joined": 2, "payment_method.replaced": 1,
                       "project.created": 3, "dataset.created": 6,
                       "dataset.records_appended": 6, "api_key.created": 5,
                       "quota.set": 6, "service_permission.set": 1}
    assert isinstance(decode_record(payload), dict)  # records are JSON objects, as uploaded


def test_the_services_refuse_for_the_seed_as_for_the_api(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, OrgShape(projects=1), settings.pepper_bytes)
    with session_factory() as session, pytest.raises(InvalidInput):
        projects.create_projects(session, org.org_id, ["ok", "bad\x1bname"], actor=SEED_ACTOR)
    set_status(session_factory, org.org_id, OrgStatus.FROZEN)
    with session_factory() as session, pytest.raises(OrgFrozen):
        datasets.create_datasets(session, org.org_id, org.project_ids[0], ["late"],
                                 actor=SEED_ACTOR)
