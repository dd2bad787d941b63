"""Records in bulk over HTTP on both databases: NDJSON and JSON arrays appended whole, read
back a page at a time, the stored count kept; one bad record refuses the upload with nothing
written (whole-database fingerprint)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from services.seeding import OrgShape
from store.models import Dataset, DatasetRecord
from tests.support.api_support import (
    OrgKeys,
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
)
from tests.support.db_snapshot import changed, fingerprint

SHAPE = OrgShape(projects=2, datasets_per_project=1, records_per_dataset=3)
NDJSON = "application/x-ndjson"


async def _dataset(client: httpx.AsyncClient, org: OrgKeys) -> str:
    base = f"/orgs/{org.org.org_id}/projects/{org.org.project_ids[0]}/datasets"
    made = await client.post(base, headers=bearer(org.admin), json={"name": "uploads"})
    assert made.status_code == 201, made.text
    return f"{base}/{made.json()['id']}/records"


def _stored(sessions: sessionmaker[Session], path: str) -> tuple[int, int]:
    """(records stored, the dataset's stored count) for a records path."""
    dataset_id = path.rsplit("/", 2)[-2]
    with sessions() as session:
        rows = session.scalar(select(func.count()).select_from(DatasetRecord)
                              .where(DatasetRecord.dataset_id == dataset_id))
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None
        return int(rows or 0), dataset.record_count


def _ndjson(records: list[Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


async def test_ndjson_and_json_appends_read_back_in_pages(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    sent = [{"sample": f"s-{i}", "reads": i, "tags": ["a", "ü"]} for i in range(25)]
    async with api_client(api_settings(settings)) as client:
        path = await _dataset(client, org)
        first = await client.post(path, headers={**bearer(org.project), "Content-Type": NDJSON},
                                  content=_ndjson(sent[:20]) + b"\n\n")
        second = await client.post(path, headers=bearer(org.admin), json=sent[20:])
        pages, cursor = [], ""
        while True:
            page = await client.get(path, headers=bearer(org.member),
                                    params={"limit": 7, "cursor": cursor})
            assert page.status_code == 200, page.text
            pages.append(page.json()["items"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
    assert first.status_code == 201, first.text
    assert first.json()["appended"] == 20 and first.json()["records"] == 20
    assert second.status_code == 201 and second.json()["records"] == 25
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    read = [item["data"] for page in pages for item in page]
    assert read == sent  # as sent, in order
    assert _stored(session_factory, path) == (25, 25)


async def test_one_bad_record_refuses_the_whole_upload(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    good = [{"n": i} for i in range(50)]
    async with api_client(api_settings(settings, record_max_bytes=200)) as client:
        path = await _dataset(client, org)
        before = fingerprint(session_factory)
        ndjson = {**bearer(org.admin), "Content-Type": NDJSON}
        broken_line = _ndjson(good[:30]) + b'{"n": 30,\n' + _ndjson(good[31:])
        answers = {
            "not json": await client.post(path, headers=ndjson, content=broken_line),
            "not an object": await client.post(path, headers=bearer(org.admin),
                                               json=[*good[:40], [1, 2], *good[41:]]),
            "too big": await client.post(path, headers=bearer(org.admin),
                                         json=[*good, {"blob": "x" * 300}]),
            "card": await client.post(path, headers=bearer(org.admin),
                                      json=[*good, {"pan": "4242 4242 4242 4242"}]),
            "nan": await client.post(path, headers=ndjson, content=b'{"a": 1}\n{"a": NaN}\n'),
            "nul": await client.post(path, headers=ndjson, content=b'{"a": "x\\u0000"}\n'),
            "empty": await client.post(path, headers=ndjson, content=b"\n"),
            "array of nothing": await client.post(path, headers=bearer(org.admin), json=[]),
            "json object": await client.post(path, headers=bearer(org.admin), json={"a": 1}),
            "bad utf-8": await client.post(path, headers=ndjson, content=b'{"a": "\xff"}\n'),
            "media type": await client.post(path, headers={**bearer(org.admin),
                                                           "Content-Type": "text/csv"},
                                            content=b"a,b\n1,2\n"),
        }
        after = fingerprint(session_factory)
    bodies = {name: problem(response, 422, "invalid-input") for name, response in answers.items()}
    assert bodies["not json"]["errors"] == [{"record": 30, "line": 31, "msg": "not a JSON value"}]
    assert bodies["not json"]["failed"] == 1 and bodies["not json"]["received"] == 50
    assert bodies["not an object"]["errors"][0]["record"] == 40
    assert bodies["too big"]["errors"][0] == {"record": 50, "msg": "larger than 200 bytes"}
    assert "card number" in bodies["card"]["errors"][0]["msg"]
    assert "4242" not in answers["card"].text  # the offending value is never echoed
    assert bodies["nan"]["errors"][0]["line"] == 2
    assert "nothing was written" in bodies["not json"]["detail"]
    assert changed(before, after) == []
    assert _stored(session_factory, path) == (0, 0)


async def test_size_and_count_limits(session_factory: sessionmaker[Session],
                                     settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    limits = api_settings(settings, records_max_body_bytes=2048, records_max_per_request=10)
    async with api_client(limits) as client:
        path = await _dataset(client, org)
        before = fingerprint(session_factory)
        large = await client.post(path, headers={**bearer(org.admin), "Content-Type": NDJSON},
                                  content=_ndjson([{"x": "y" * 100}] * 30))
        many = await client.post(path, headers=bearer(org.admin), json=[{"i": i}
                                                                        for i in range(11)])
        after = fingerprint(session_factory)
        fits = await client.post(path, headers=bearer(org.admin),
                                 json=[{"i": i} for i in range(10)])
    body = problem(large, 413, "content-too-large")
    assert body["max_bytes"] == 2048
    assert problem(many, 422)["max_records"] == 10
    assert changed(before, after) == []
    assert fits.status_code == 201 and fits.json()["records"] == 10


async def test_records_of_another_project_or_dataset_are_not_reachable(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    other = seed_with_keys(session_factory, settings, SHAPE)
    async with api_client(api_settings(settings)) as client:
        path = await _dataset(client, org)
        dataset_id = path.rsplit("/", 2)[-2]
        wrong_project = path.replace(org.org.project_ids[0], org.org.project_ids[1])
        cases = [
            (await client.post(wrong_project, headers=bearer(org.admin), json=[{"a": 1}]), 404),
            (await client.get(wrong_project, headers=bearer(org.admin)), 404),
            (await client.post(path, headers=bearer(other.admin), json=[{"a": 1}]), 403),
            (await client.get(path, headers=bearer(other.project)), 403),
            (await client.post(path, headers=bearer(org.member), json=[{"a": 1}]), 403),
            (await client.get(path, headers=bearer(org.admin), params={"cursor": "x1"}), 422),
        ]
    for response, status in cases:
        problem(response, status)
    assert _stored(session_factory, f"/x/{dataset_id}/records") == (0, 0)
