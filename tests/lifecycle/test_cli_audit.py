"""`lifecycle audit list|export` against a running stack (uvicorn on a socket, PostgreSQL):
the routes have their own tests on both databases; here the CLI's HTTP side is under test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from services.seeding import OrgShape
from tests.support.api_support import OrgKeys, seed_with_keys
from tests.support.cli_support import Stack, cli, cli_stack

SHAPE = OrgShape(projects=3, datasets_per_project=0, records_per_dataset=0, usage_records=0,
                 invoices=0)


@pytest.fixture(scope="module")
async def stack(time_skipping_env: WorkflowEnvironment, postgres_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with cli_stack(time_skipping_env.client, postgres_url,
                         tmp_path_factory.mktemp("cli-audit")) as running:
        yield running


@pytest.fixture
def org(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> OrgKeys:
    seeded = seed_with_keys(stack.sessions, stack.settings, SHAPE)
    monkeypatch.setenv("LIFECYCLE_API_KEY", seeded.admin)
    return seeded


async def test_list_and_export_the_audit_log(stack: Stack, org: OrgKeys,
                                             capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    code, out, err = await cli(capsys, "audit", "list", org_id, "--limit", "2", "--all",
                               "--json", *url)
    assert code == 0, err
    everything = json.loads(out)["items"]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True) and len(ids) > 5
    code, out, err = await cli(capsys, "audit", "list", org_id, "--action", "project.created",
                               *url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "WHEN", "ACTOR", "ACTION", "TARGET"]
    assert sum("project.created" in line for line in lines) == 3
    assert not any("api_key.created" in line for line in lines)

    target = tmp_path / "audit.ndjson"
    code, out, err = await cli(capsys, "audit", "export", org_id, "--output", str(target),
                               *url)
    assert code == 0 and "exported" in err, err
    exported = [json.loads(line) for line in target.read_text().splitlines()]
    assert exported == everything
    code, out, err = await cli(capsys, "audit", "export", org_id, "--action", "quota.set",
                               *url)
    assert code == 0, err
    assert {json.loads(line)["action"] for line in out.splitlines()} == {"quota.set"}


async def test_refusals_are_one_line_errors_and_leave_no_file(
        stack: Stack, org: OrgKeys, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    code, _, err = await cli(capsys, "audit", "list", org_id, "--since", "yesterday", *url)
    assert code == 1 and err.startswith("lifecycle audit list: Invalid input"), err
    target = tmp_path / "refused.ndjson"
    code, _, err = await cli(capsys, "audit", "export", org_id, "--api-key", org.member,
                               "--output", str(target), *url)
    assert code == 1 and "Not permitted" in err and org.member not in err, err
    assert not target.exists() and not list(tmp_path.iterdir())
    monkeypatch.delenv("LIFECYCLE_API_KEY")
    code, _, err = await cli(capsys, "audit", "list", org_id, *url)
    assert code == 2 and "no API key" in err
