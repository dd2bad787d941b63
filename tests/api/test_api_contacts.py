"""Essential contacts over HTTP: the admin adds, lists and removes them, audited; members,
other orgs and frozen orgs are refused; bad input is a 422 and writes nothing. Both databases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store.models import AuditEvent, OrgStatus
from store.plan import owned_counts
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    set_status,
)


async def test_the_admin_manages_contacts_and_every_change_is_audited(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    other = seed_with_keys(session_factory, settings)
    org_id, admin = org.org.org_id, bearer(org.admin)
    url = f"/orgs/{org_id}/contacts"
    async with api_client(api_settings(settings)) as api:
        added = await api.post(url, headers=admin,
                               json={"kind": "security", "email": " sec@acme.example "})
        tech = await api.post(url, headers=admin,
                              json={"kind": "technical", "email": "ops@acme.example"})
        twice = await api.post(url, headers=admin,
                               json={"kind": "security", "email": "sec@acme.example"})
        bad_kind = await api.post(url, headers=admin,
                                  json={"kind": "legal", "email": "l@acme.example"})
        bad_mail = await api.post(url, headers=admin,
                                  json={"kind": "billing", "email": "not an address"})
        by_member = await api.post(url, headers=bearer(org.member),
                                   json={"kind": "billing", "email": "b@acme.example"})
        member_reads = await api.get(url, headers=bearer(org.member))
        other_admin = await api.get(url, headers=bearer(other.admin))
        listed = await api.get(url, headers=admin)
        removed = await api.delete(f"{url}/{tech.json()['id']}", headers=admin)
        removed_again = await api.delete(f"{url}/{tech.json()['id']}", headers=admin)
        after = await api.get(url, headers=admin)
        set_status(session_factory, org_id, OrgStatus.FROZEN)
        frozen = await api.post(url, headers=admin,
                                json={"kind": "billing", "email": "b@acme.example"})
    assert added.status_code == 201, added.text
    assert added.json()["email"] == "sec@acme.example"
    assert added.json()["added_by"] == f"key:{org.admin[:12]}"
    problem(twice, 409, "contact-exists")
    problem(bad_kind, 422)
    problem(bad_mail, 422, "invalid-input")
    problem(by_member, 403, "not-permitted")
    problem(member_reads, 403, "not-permitted")
    problem(other_admin, 403, "not-permitted")
    assert [(c["kind"], c["email"]) for c in listed.json()["items"]] == [
        ("security", "sec@acme.example"), ("technical", "ops@acme.example")]
    assert removed.status_code == 204
    problem(removed_again, 404, "not-found")
    assert [c["id"] for c in after.json()["items"]] == [added.json()["id"]]
    problem(frozen, 403, "org-frozen")
    with session_factory() as session:
        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.action.startswith("contact."))
            .order_by(AuditEvent.id)))
        counts = owned_counts(session, org_id)
    assert [(e.action, e.detail["kind"]) for e in events] == [
        ("contact.added", "security"), ("contact.added", "technical"),
        ("contact.removed", "technical")]
    assert all("acme.example" not in str(e.detail) + e.target for e in events)
    assert counts["org_contacts"] == 1  # the teardown's plan and verifier count them
