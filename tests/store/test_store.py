"""Store tests, each run on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import OrgShape, seed_org
from store import console_auth, contacts, members, webhooks
from store.auth_failures import record_failure
from store.base import Base, utcnow
from store.ledger import record
from store.migrate import downgrade, upgrade
from store.models import (
    AdminImmutableError,
    ApiKey,
    AuditEvent,
    DeletionCertificate,
    Organization,
    OrgStatus,
    OutboxMessage,
    PaymentMethod,
    ProjectDeletionCertificate,
    ProjectDeletionRequest,
    ProjectDeletionStatus,
    RequestStatus,
    Role,
    TeardownRequest,
)
from store.ownership import leftover_counts

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=7, members=3,
                 team_keys=2, project_keys_per_project=1, job_plans=2, usage_records=4,
                 invoices=3, unpaid_invoices=1, permissions_off=1)


def _row_dict(obj: object) -> dict[str, object]:
    mapper = inspect(type(obj))
    return {c.key: getattr(obj, c.key) for c in mapper.column_attrs}


def test_every_model_round_trips(session_factory: sessionmaker[Session],
                                 settings: Settings) -> None:
    """Seed a full org plus the retained tables, then read every row back field by field."""
    with session_factory.begin() as session:
        seeded = seed_org(session, SHAPE, settings.pepper_bytes)
        session.add(AuditEvent(org_id=seeded.org_id, actor="member:x", action="org.updated",
                               target="org", detail={"fields": ["name"]}))
        session.add(DeletionCertificate(org_id="f" * 32, org_name_hash="a" * 64,
                                        requested_by="member:y", workflow_id="wf", run_id="r",
                                        steps=[{"step": "freeze", "count": 1}],
                                        counts={"projects": 2}, verification={"projects": 0}))
        record(session, seeded.org_id, "projects:p1", 1)
        session.add(ProjectDeletionRequest(
            org_id=seeded.org_id, project_id=seeded.project_ids[0], requested_by="key:olt_x",
            grace_seconds=60, status=ProjectDeletionStatus.COMPLETED,
            workflow_id=f"project-deletion-{seeded.project_ids[0]}", run_id="r"))
        session.add(ProjectDeletionCertificate(
            request_id="e" * 32, org_id=seeded.org_id, project_id=seeded.project_ids[0],
            project_name_hash="b" * 64, requested_by="key:olt_x", workflow_id="wf",
            run_id="r", steps=[{"name": "purge"}], counts={"projects": 1},
            verification={"projects": 0}))
        session.add(OutboxMessage(idempotency_key="k1", org_id=seeded.org_id, channel="email",
                                  recipient="a@example.com", subject="s", body="b"))
        now = utcnow()
        console_auth.add_link(session, token_hash=b"l" * 32, org_id=seeded.org_id,
                              member_id=seeded.admin_member_id, now=now,
                              lifetime=timedelta(minutes=15))
        console_auth.add_session(session, id_hash=b"s" * 32, org_id=seeded.org_id,
                                 member_id=seeded.admin_member_id, now=now,
                                 lifetime=timedelta(hours=1))
        console_auth.count_attempt(session, "b" * 64, now, timedelta(minutes=15))
        contacts.add_contact(session, org_id=seeded.org_id, kind="security",
                             email="sec@example.com", added_by="key:olt_x")
        session.add(TeardownRequest(
            org_id=seeded.org_id, requested_by="member:x", grace_seconds=60,
            min_grace_seconds=30, status=RequestStatus.PENDING,
            workflow_id=f"org-teardown-{seeded.org_id}"))
        record_failure(session, ["c" * 64], now, timedelta(minutes=15))
        members.add_invitation(session, org_id=seeded.org_id, email="new@example.com",
                               role=Role.MEMBER, token_hash=b"i" * 32, invited_by="key:olt_x",
                               now=now, expires_at=now + timedelta(days=7))
        members.add_removal(session, org_id=seeded.org_id, member_id="d" * 32,
                            requested_by="key:olt_x", workflow_id="wf", now=now)
        webhooks.add_endpoint(session, org_id=seeded.org_id, url="https://hooks.example.com/",
                              description="", event_types=["api_key.expiring"],
                              sealed="v1:sealed", endpoint_id="d" * 32, created_by="key:x")
        webhooks.emit(session, seeded.org_id, "api_key.expiring", "api_key:k:7d:t", {"k": 1})
        webhooks.log_attempt(session, org_id=seeded.org_id, endpoint_id="d" * 32,
                             event="evt_x", event_type="api_key.expiring", attempt=1,
                             status_code=500, latency_ms=3, error="webhook answered 500",
                             next_retry_at=now)
    written: dict[type, list[dict[str, object]]] = {}
    with session_factory() as session:
        for mapper in Base.registry.mappers:
            cls = mapper.class_
            written[cls] = [_row_dict(o) for o in session.scalars(select(cls))]
    # every table got rows, and the counts match what the seeder reported
    for cls, rows in written.items():
        assert rows, f"{cls.__tablename__} has no rows"
        if cls.__tablename__ in seeded.counts and not cls.__tablename__.startswith(
                ("console_", "member_", "org_contacts", "webhook_")):
            assert len(rows) == seeded.counts[cls.__tablename__], cls.__tablename__
    # a fresh session reads identical values (types survive the round trip: enums, UTC, bytes)
    with session_factory() as session:
        for cls, rows in written.items():
            again = [_row_dict(o) for o in session.scalars(select(cls))]
            assert sorted(map(repr, again)) == sorted(map(repr, rows))
        org = session.get(Organization, seeded.org_id)
        assert org is not None
        assert org.status is OrgStatus.ACTIVE
        assert org.created_at.tzinfo is not None
        key = session.scalars(select(ApiKey).where(ApiKey.prefix == seeded.admin_key[:12])).one()
        assert isinstance(key.secret_hash, bytes) and len(key.secret_hash) == 32
        assert key.expires_at.tzinfo == UTC


def test_admin_account_cannot_change(session_factory: sessionmaker[Session],
                                     settings: Settings) -> None:
    with session_factory.begin() as session:
        seeded = seed_org(session, SHAPE, settings.pepper_bytes)
    with pytest.raises(AdminImmutableError), session_factory.begin() as session:
        org = session.get(Organization, seeded.org_id)
        assert org is not None
        org.admin_member_id = "0" * 32
    with session_factory() as session:
        org = session.get(Organization, seeded.org_id)
        assert org is not None and org.admin_member_id == seeded.admin_member_id


def test_foreign_keys_refuse_orphans(session_factory: sessionmaker[Session],
                                     settings: Settings) -> None:
    """Deleting an org that still owns rows is refused by the database itself."""
    with session_factory.begin() as session:
        seeded = seed_org(session, SHAPE, settings.pepper_bytes)
    with pytest.raises(IntegrityError), session_factory.begin() as session:
        session.execute(delete(Organization).where(Organization.id == seeded.org_id))


def test_card_constraints(session_factory: sessionmaker[Session], settings: Settings) -> None:
    with session_factory.begin() as session:
        seeded = seed_org(session, OrgShape(card=False), settings.pepper_bytes)
    with pytest.raises(DBAPIError), session_factory.begin() as session:
        session.add(PaymentMethod(org_id=seeded.org_id, provider_token="tok", brand="visa",
                                  last4="4242424242", exp_month=13, exp_year=2030))


def test_leftover_counts_see_every_owned_row(session_factory: sessionmaker[Session],
                                             settings: Settings) -> None:
    with session_factory.begin() as session:
        one = seed_org(session, SHAPE, settings.pepper_bytes)
        two = seed_org(session, OrgShape(projects=1, records_per_dataset=3),
                       settings.pepper_bytes)
    tables = Base.metadata.tables
    with session_factory() as session:
        counts_one = leftover_counts(session, one.org_id, dict(tables))
        counts_two = leftover_counts(session, two.org_id, dict(tables))
    assert counts_one == one.counts
    assert counts_two == two.counts


def test_migrations_upgrade_and_downgrade(db_url: str, engine: Engine) -> None:
    """From head to empty and back; the migrated schema has every model's tables and indexes."""
    downgrade(db_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(db_url, "head")
    inspector = inspect(engine)
    assert set(Base.metadata.tables) <= set(inspector.get_table_names())
    for table in Base.metadata.sorted_tables:
        indexed = {col for ix in inspector.get_indexes(table.name) for col in ix["column_names"]}
        indexed |= {col for uq in inspector.get_unique_constraints(table.name)
                    for col in uq["column_names"]}
        indexed |= set(inspector.get_pk_constraint(table.name)["constrained_columns"])
        for fk in table.foreign_keys:
            assert fk.parent.name in indexed, f"{table.name}.{fk.parent.name} has no index"
    assert any(ix["column_names"][0] == "expires_at" for ix in inspector.get_indexes("api_keys"))


def test_models_and_migrations_agree(engine: Engine) -> None:
    """Autogenerate finds nothing to do: a model change without a migration fails here."""
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_utc_datetimes_refuse_naive(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(Exception, match="naive"), session_factory.begin() as session:
        session.add(AuditEvent(actor="a", action="b", created_at=datetime(2026, 1, 1)))
