"""Dataset files over HTTP against a real S3-compatible store (SeaweedFS), on both databases:
uploaded whole with their content type, listed, downloaded byte for byte; refused with a
problem when too large (declared or streamed), misnamed, already there, from a frozen org, or
while the object store is down (503 with Retry-After), and nothing stored then."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.ports import free_port
from core.problems import OrgFrozen
from core.settings import Settings
from services import dataset_files
from services.seeding import OrgShape
from store.models import OrgStatus
from store.objects import ObjectStore, dataset_prefix
from tests.support.api_support import (
    OrgKeys,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    set_status,
)
from tests.support.files_support import objects_of

SHAPE = OrgShape(projects=2, datasets_per_project=1, records_per_dataset=1)


def _dataset_id(sessions: sessionmaker[Session], org: OrgKeys, project: int = 0) -> str:
    from sqlalchemy import select

    from store.models import Dataset

    with sessions() as session:
        return str(session.scalars(select(Dataset.id).where(
            Dataset.project_id == org.org.project_ids[project])).one())


def _base(org: OrgKeys, dataset_id: str, project: int = 0) -> str:
    return (f"/orgs/{org.org.org_id}/projects/{org.org.project_ids[project]}/datasets/"
            f"{dataset_id}/files")


async def _chunks(size: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        part = min(chunk, size - sent)
        sent += part
        yield b"z" * part


async def test_upload_list_and_download_keep_bytes_and_content_type(
        session_factory: sessionmaker[Session], files_settings: Settings,
        object_store: ObjectStore) -> None:
    org = seed_with_keys(session_factory, files_settings, SHAPE)
    dataset_id = _dataset_id(session_factory, org)
    base = _base(org, dataset_id)
    body = bytes(range(256)) * 4096 + b"\x00end"  # 1 MiB and a bit, NUL bytes included
    async with api_client(api_settings(files_settings)) as client:
        made = await client.put(f"{base}/reads.parquet", content=body, headers={
            **bearer(org.project), "Content-Type": "application/vnd.apache.parquet"})
        assert made.status_code == 201, made.text
        assert made.json()["size"] == len(body)
        streamed = await client.put(f"{base}/big.bin", content=_chunks(300_000),
                                    headers=bearer(org.admin))
        assert streamed.status_code == 201, streamed.text
        again = await client.put(f"{base}/reads.parquet", content=b"other",
                                 headers=bearer(org.admin))
        problem(again, 409, "file-exists")

        listed = await client.get(base, headers=bearer(org.member), params={"limit": 1})
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert [f["name"] for f in page["items"]] == ["big.bin"]
        rest = await client.get(base, headers=bearer(org.member),
                                params={"cursor": page["next_cursor"]})
        assert [(f["name"], f["size"]) for f in rest.json()["items"]] == [
            ("reads.parquet", len(body))]
        assert rest.json()["next_cursor"] is None

        got = await client.get(f"{base}/reads.parquet", headers=bearer(org.member))
        assert got.status_code == 200
        assert got.content == body
        assert got.headers["content-type"] == "application/vnd.apache.parquet"
        default = await client.get(f"{base}/big.bin", headers=bearer(org.member))
        assert default.headers["content-type"] == "application/octet-stream"
        assert len(default.content) == 300_000
        problem(await client.get(f"{base}/nothing.bin", headers=bearer(org.member)), 404)
        # a project key reaches its own project only
        other = _base(org, _dataset_id(session_factory, org, 1), 1)
        problem(await client.put(f"{other}/x.bin", content=b"x", headers=bearer(org.project)),
                403)
    assert sorted(objects_of(object_store, org.org.org_id)) == [
        f"projects/{org.org.project_ids[0]}/datasets/{dataset_id}/big.bin",
        f"projects/{org.org.project_ids[0]}/datasets/{dataset_id}/reads.parquet"]


async def test_bad_uploads_are_problems_and_store_nothing(
        session_factory: sessionmaker[Session], files_settings: Settings,
        object_store: ObjectStore) -> None:
    small = files_settings.model_copy(update={"dataset_file_max_bytes": 100_000})
    org = seed_with_keys(session_factory, small, SHAPE)
    base = _base(org, _dataset_id(session_factory, org))
    async with api_client(api_settings(small)) as client:
        declared = await client.put(f"{base}/a.bin", content=b"x" * 100_001,
                                    headers=bearer(org.admin))
        assert problem(declared, 413, "content-too-large")["max_bytes"] == 100_000
        streamed = await client.put(f"{base}/b.bin", content=_chunks(150_000, 10_000),
                                    headers=bearer(org.admin))
        problem(streamed, 413, "content-too-large")
        for name in (".hidden", "-dash.bin", "a b.bin", "x" * 201):
            problem(await client.put(f"{base}/{name}", content=b"x", headers=bearer(org.admin)),
                    422)
        problem(await client.put(f"{base}/c.bin", content=b"x", headers={
            **bearer(org.admin), "Content-Type": "not a type"}), 422)
        problem(await client.put(f"{base.rsplit('/', 2)[0]}/nope/files/c.bin", content=b"x",
                                 headers=bearer(org.admin)), 404)
        set_status(session_factory, org.org.org_id, OrgStatus.FROZEN)
        # a frozen org's keys are refused (403 org-frozen), so its uploads never begin
        problem(await client.put(f"{base}/d.bin", content=b"x", headers=bearer(org.admin)),
                403, "org-frozen")
    # and the write guard itself refuses a frozen org under its lock, before the store
    with session_factory.begin() as session, pytest.raises(OrgFrozen):
        dataset_files.upload(session, object_store, org.org.org_id, org.org.project_ids[0],
                             _dataset_id(session_factory, org), "e.bin", io.BytesIO(b"x"), 1,
                             "text/plain", actor="test")
    assert objects_of(object_store, org.org.org_id) == []


async def test_object_store_down_is_a_503_with_retry_after(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    down = settings.model_copy(update={
        "object_store_endpoint": f"http://127.0.0.1:{free_port()}"})  # nothing listens there
    off = settings.model_copy(update={"object_store_endpoint": ""})
    org = seed_with_keys(session_factory, down, SHAPE)
    base = _base(org, _dataset_id(session_factory, org))
    async with api_client(api_settings(down)) as client:
        for response in (await client.put(f"{base}/a.bin", content=b"x",
                                          headers=bearer(org.admin)),
                         await client.get(base, headers=bearer(org.admin)),
                         await client.get(f"{base}/a.bin", headers=bearer(org.admin))):
            problem(response, 503, "files-unavailable")
            assert response.headers["retry-after"] == "5"
    async with api_client(api_settings(off)) as client:
        answer = problem(await client.get(base, headers=bearer(org.admin)), 503,
                         "files-unavailable")
        assert "not configured" in answer["detail"]
    assert dataset_prefix(org.org.org_id, org.org.project_ids[0], "d").startswith("orgs/")


async def test_deleting_a_dataset_deletes_its_files_and_only_its_files(
        session_factory: sessionmaker[Session], files_settings: Settings,
        object_store: ObjectStore) -> None:
    org = seed_with_keys(session_factory, files_settings, SHAPE)
    gone, kept = _dataset_id(session_factory, org), _dataset_id(session_factory, org, 1)
    async with api_client(api_settings(files_settings)) as client:
        for dataset_id, project in ((gone, 0), (gone, 0), (kept, 1)):
            name = f"f-{len(objects_of(object_store, org.org.org_id))}.bin"
            made = await client.put(f"{_base(org, dataset_id, project)}/{name}",
                                    content=b"data", headers=bearer(org.admin))
            assert made.status_code == 201, made.text
        base = f"/orgs/{org.org.org_id}/projects/{org.org.project_ids[0]}/datasets/{gone}"
        deleted = await client.delete(base, headers=bearer(org.admin))
        assert deleted.status_code == 200, deleted.text
    assert objects_of(object_store, org.org.org_id) == [
        f"projects/{org.org.project_ids[1]}/datasets/{kept}/f-2.bin"]
