"""The key-policy service on both databases: the checks hold without the API's request model
in front (the console and the seed call it too), and a refusal writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.problems import InvalidInput, OrgFrozen
from core.settings import Settings
from services.orgs import set_key_policy
from services.seeding import BARE_ORG, seed_org
from store.models import AuditEvent, Organization, OrgStatus


@pytest.mark.parametrize(("lifetime", "unused", "field"), [
    (365, 7, "revoke_unused_keys_after_days"), (365, 3651, "revoke_unused_keys_after_days"),
    (0, 30, "max_key_lifetime_days"), (3651, None, "max_key_lifetime_days")])
def test_out_of_range_is_refused_naming_the_field(
        session_factory: sessionmaker[Session], settings: Settings, lifetime: int,
        unused: int | None, field: str) -> None:
    with session_factory.begin() as session:
        org_id = seed_org(session, BARE_ORG, settings.pepper_bytes).org_id
    with session_factory() as session, pytest.raises(InvalidInput) as refused:
        set_key_policy(session, org_id, max_key_lifetime_days=lifetime,
                       revoke_unused_keys_after_days=unused, actor="test")
    assert refused.value.extensions["field"] == field


def test_a_frozen_org_keeps_its_policy(session_factory: sessionmaker[Session],
                                       settings: Settings) -> None:
    with session_factory.begin() as session:
        org_id = seed_org(session, BARE_ORG, settings.pepper_bytes).org_id
        session.get_one(Organization, org_id).status = OrgStatus.FROZEN
    with session_factory() as session, pytest.raises(OrgFrozen):
        set_key_policy(session, org_id, max_key_lifetime_days=365,
                       revoke_unused_keys_after_days=90, actor="test")
    with session_factory() as session:
        assert session.get_one(Organization, org_id).revoke_unused_keys_after_days is None
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "org.key_policy_updated")) == 0
