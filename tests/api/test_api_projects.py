"""Projects and datasets over HTTP on both databases: create, rename, list with cursors, show
with counts, delete datasets; names checked the same way for every caller; refusals write
nothing (whole-database fingerprint)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import OrgShape
from store.models import AuditEvent, Dataset, DatasetRecord, OrgStatus, Project, ProjectStatus
from tests.support.api_support import (
    OrgKeys,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    set_status,
)
from tests.support.db_snapshot import changed, fingerprint
from tests.support.deletion_support import status_of

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=7,
                 project_keys_per_project=1)


async def _pages(client: httpx.AsyncClient, path: str, key: str, limit: int) -> list[Any]:
    items: list[Any] = []
    cursor = ""
    while True:
        response = await client.get(path, headers=bearer(key),
                                    params={"limit": limit, "cursor": cursor})
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = page["next_cursor"]


async def test_create_rename_list_and_show_projects(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    async with api_client(api_settings(settings)) as client:
        made = [await client.post(f"/orgs/{org_id}/projects", headers=admin,
                                  json={"name": f"analysis {i}"}) for i in range(5)]
        assert all(r.status_code == 201 for r in made), made[0].text
        created = made[0].json()
        assert created["status"] == "active" and created["datasets"] == 0
        renamed = await client.patch(f"/orgs/{org_id}/projects/{created['id']}", headers=admin,
                                     json={"name": "renamed"})
        taken = await client.patch(f"/orgs/{org_id}/projects/{created['id']}", headers=admin,
                                   json={"name": "analysis 1"})
        listed = await _pages(client, f"/orgs/{org_id}/projects", org.member, limit=2)
        shown = await client.get(f"/orgs/{org_id}/projects/{org.org.project_ids[0]}",
                                 headers=bearer(org.project))
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    problem(taken, 409, "name-taken")
    assert len(listed) == SHAPE.projects + 5
    assert len({p["id"] for p in listed}) == len(listed)  # no page repeats an item
    seeded = next(p for p in listed if p["id"] == org.org.project_ids[0])
    assert seeded["datasets"] == 2 and seeded["records"] == 14
    assert shown.status_code == 200 and shown.json() == seeded
    with session_factory() as session:
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.org_id == org_id, AuditEvent.actor == f"key:{org.admin[:12]}")).all()
    assert sorted(actions) == ["project.created"] * 5 + ["project.renamed"]


async def test_bad_names_are_refused_and_write_nothing(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    project = org.org.project_ids[0]
    before = fingerprint(session_factory)
    async with api_client(api_settings(settings)) as client:
        answers = [
            (await client.post(f"/orgs/{org_id}/projects", headers=admin, json=body), status)
            for body, status in [
                ({"name": ""}, 422), ({"name": "   "}, 422), ({"name": "a\x07b"}, 422),
                ({"name": "x" * 201}, 422), ({"name": "project-0"}, 409), ({}, 422),
                ({"name": "card 4242 4242 4242 4242"}, 422), ({"name": "ok", "extra": 1}, 422)]]
        answers.append((await client.post(f"/orgs/{org_id}/projects/{project}/datasets",
                                           headers=admin, json={"name": "dataset-0"}), 409))
        answers.append((await client.patch(f"/orgs/{org_id}/projects/{'0' * 32}",
                                           headers=admin, json={"name": "n"}), 404))
    for response, status in answers:
        problem(response, status)
    assert changed(before, fingerprint(session_factory)) == []


async def test_datasets_created_listed_and_deleted_with_their_records(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, project = org.org.org_id, org.org.project_ids[0]
    base = f"/orgs/{org_id}/projects/{project}/datasets"
    own = bearer(org.project)
    async with api_client(api_settings(settings)) as client:
        made = await client.post(base, headers=own, json={"name": "fresh"})
        listed = await _pages(client, base, org.member, limit=1)
        victim = listed[0]
        gone = await client.delete(f"{base}/{victim['id']}", headers=own)
        again = await client.delete(f"{base}/{victim['id']}", headers=own)
        shown = await client.get(f"/orgs/{org_id}/projects/{project}", headers=bearer(org.admin))
    assert made.status_code == 201 and made.json()["records"] == 0
    assert len(listed) == 3
    assert gone.status_code == 200
    assert gone.json() == {"id": victim["id"], "records_deleted": victim["records"]}
    problem(again, 404, "not-found")
    left = [d for d in listed if d["id"] != victim["id"]]
    assert shown.json()["datasets"] == 2
    assert shown.json()["records"] == sum(d["records"] for d in left)
    with session_factory() as session:
        assert session.get(Dataset, victim["id"]) is None
        assert session.scalar(select(func.count()).select_from(DatasetRecord).where(
            DatasetRecord.dataset_id == victim["id"])) == 0


async def test_a_dataset_above_the_delete_limit_is_refused(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, project = org.org.org_id, org.org.project_ids[0]
    base = f"/orgs/{org_id}/projects/{project}/datasets"
    async with api_client(api_settings(settings, dataset_delete_max_records=5)) as client:
        dataset = (await client.get(base, headers=bearer(org.admin))).json()["items"][0]
        refused = await client.delete(f"{base}/{dataset['id']}", headers=bearer(org.admin))
    body = problem(refused, 409, "dataset-too-large")
    assert body["record_count"] == 7 and body["max_records"] == 5


async def test_a_frozen_project_refuses_writes_and_its_keys(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    """While a deletion is under way: its project key is refused, and so is every write to
    it, even with the admin's key; reads stay open to the admin so it can be watched."""
    org: OrgKeys = seed_with_keys(session_factory, settings, SHAPE)
    org_id, project = org.org.org_id, org.org.project_ids[0]
    with session_factory.begin() as session:
        row = session.get(Project, project)
        assert row is not None
        row.status = ProjectStatus.FROZEN
    admin, base = bearer(org.admin), f"/orgs/{org_id}/projects/{project}"
    before = fingerprint(session_factory)
    async with api_client(api_settings(settings)) as client:
        own_key = await client.get(base, headers=bearer(org.project))
        dataset = await client.post(f"{base}/datasets", headers=admin, json={"name": "n"})
        rename = await client.patch(base, headers=admin, json={"name": "n"})
        key = await client.post(f"{base}/keys", headers=admin, json={"name": "n"})
        read = await client.get(base, headers=admin)
    problem(own_key, 403, "project-frozen")
    for response in (dataset, rename, key):
        problem(response, 403, "project-frozen")
    assert read.status_code == 200 and read.json()["status"] == "frozen"
    assert status_of(session_factory, project) is ProjectStatus.FROZEN
    tables = changed(before, fingerprint(session_factory))
    assert tables in ([], ["api_keys"])  # at most the admin key's last-used stamp


async def test_a_frozen_org_refuses_project_writes(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    set_status(session_factory, org.org.org_id, OrgStatus.FROZEN)
    async with api_client(api_settings(settings)) as client:
        response = await client.post(f"/orgs/{org.org.org_id}/projects",
                                     headers=bearer(org.admin), json={"name": "late"})
    problem(response, 403, "org-frozen")
