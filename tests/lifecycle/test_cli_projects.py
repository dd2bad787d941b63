"""`lifecycle projects ...` and `lifecycle datasets ...` against a running stack: uvicorn,
PostgreSQL, Temporal and a real worker (as the other CLI tests: the routes have their own tests
on both databases; what is under test here is the CLI's HTTP side)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from services.seeding import OrgShape
from tests.support.api_support import OrgKeys, seed_with_keys
from tests.support.cli_support import Stack, cli, cli_stack

SHAPE = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=3, usage_records=0,
                 invoices=0)


@pytest.fixture(scope="module")
async def stack(time_skipping_env: WorkflowEnvironment, postgres_url: str,
                tmp_path_factory: pytest.TempPathFactory,
                object_store_endpoint: str) -> AsyncIterator[Stack]:
    async with cli_stack(time_skipping_env.client, postgres_url,
                         tmp_path_factory.mktemp("cli-projects"),
                         object_store_endpoint=object_store_endpoint,
                         object_store_bucket="cli-projects") as running:
        yield running


@pytest.fixture
def org(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> OrgKeys:
    seeded = seed_with_keys(stack.sessions, stack.settings, SHAPE)
    monkeypatch.setenv("LIFECYCLE_API_KEY", seeded.admin)
    return seeded


async def test_projects_and_datasets_from_a_terminal(
        stack: Stack, org: OrgKeys, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    code, out, err = await cli(capsys, "projects", "create", org_id, "--name", "genomics",
                               "--json", *url)
    assert code == 0, err
    project = json.loads(out)["id"]
    code, out, err = await cli(capsys, "projects", "rename", org_id, project, "--name",
                               "genomics-2", *url)
    assert code == 0 and "genomics-2" in out, err
    code, out, err = await cli(capsys, "datasets", "create", org_id, project, "--name", "reads",
                               "--json", *url)
    assert code == 0, err
    dataset = json.loads(out)["id"]

    upload = tmp_path / "reads.ndjson"
    upload.write_text("".join(json.dumps({"sample": f"s{i}"}) + "\n" for i in range(5)))
    code, out, err = await cli(capsys, "datasets", "append", org_id, project, dataset,
                               str(upload), *url)
    assert code == 0 and "appended 5 records; the dataset holds 5" in out, err
    array = tmp_path / "more.json"
    array.write_text(json.dumps([{"sample": "s5"}, {"sample": "s6"}]))
    code, out, err = await cli(capsys, "datasets", "append", org_id, project, dataset,
                               str(array), *url)
    assert code == 0 and "holds 7" in out, err

    broken = tmp_path / "broken.ndjson"
    broken.write_text('{"sample": "ok"}\n{"sample": \n')
    code, out, err = await cli(capsys, "datasets", "append", org_id, project, dataset,
                               str(broken), *url)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "1 of 2 records failed validation" in err

    code, out, err = await cli(capsys, "datasets", "records", org_id, project, dataset,
                               "--limit", "3", "--all", *url)
    assert code == 0, err
    assert [json.loads(line)["sample"] for line in out.splitlines()] == \
        [f"s{i}" for i in range(7)]

    code, out, err = await cli(capsys, "projects", "list", org_id, "--limit", "1", "--all",
                               *url)
    assert code == 0, err
    assert "genomics-2" in out and "project-0" in out
    code, out, err = await cli(capsys, "projects", "show", org_id, project, "--json", *url)
    assert code == 0 and json.loads(out)["records"] == 7, err

    blob = tmp_path / "plate.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    code, out, err = await cli(capsys, "datasets", "upload", org_id, project, dataset,
                               str(blob), "--content-type", "image/png", *url)
    assert code == 0 and "uploaded plate.png (10248 bytes, image/png)" in out, err
    code, out, err = await cli(capsys, "datasets", "files", org_id, project, dataset, *url)
    assert code == 0 and "plate.png" in out and "10248" in out, err
    fetched = tmp_path / "fetched.png"
    code, out, err = await cli(capsys, "datasets", "download", org_id, project, dataset,
                               "plate.png", "-o", str(fetched), *url)
    assert code == 0 and fetched.read_bytes() == blob.read_bytes(), err

    code, out, err = await cli(capsys, "datasets", "delete", org_id, project, dataset, *url)
    assert code == 0 and "with 7 records" in out, err
    code, out, err = await cli(capsys, "datasets", "list", org_id, project, *url)
    assert code == 0 and "no datasets" in out, err


async def test_delete_a_project_and_follow_it(
        stack: Stack, org: OrgKeys, capsys: pytest.CaptureFixture[str]) -> None:
    org_id, project, url = org.org.org_id, org.org.project_ids[0], ("--api-url", stack.url)
    code, out, err = await cli(capsys, "projects", "delete", org_id, project, "--confirm",
                               "wrong name", *url)
    assert code == 1 and "does not match" in err
    code, out, err = await cli(capsys, "projects", "delete", org_id, project, "--confirm",
                               "project-0", "--grace-seconds", "0", *url)
    assert code == 0 and "deletion requested" in out, err
    code, out, err = await cli(capsys, "projects", "deletion", org_id, project, "--follow",
                               "--interval", "0.1", *url)
    assert code == 0, err
    assert "completed" in out and "deletion certificate" in out
    code, out, err = await cli(capsys, "projects", "show", org_id, project, *url)
    assert code == 1 and "Not found" in err


async def test_no_key_is_a_usage_error(stack: Stack, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIFECYCLE_API_KEY", raising=False)
    code, out, err = await cli(capsys, "projects", "list", "x" * 32, "--api-url", stack.url)
    assert code == 2 and "no API key" in err and out == ""
