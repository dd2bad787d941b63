"""`lifecycle orgs ...` and `lifecycle members ...` against a running stack: uvicorn +
PostgreSQL + Temporal + a real worker, from an org created by the CLI to a member removed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from lifecycle.keys_cli import SHOWN_ONCE
from tests.support.api_support import OPERATOR_TOKEN
from tests.support.cli_support import Stack, cli, cli_stack
from tests.support.member_support import mailed_token


@pytest.fixture(scope="module")
async def stack(time_skipping_env: WorkflowEnvironment, postgres_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with cli_stack(time_skipping_env.client, postgres_url,
                         tmp_path_factory.mktemp("cli-members")) as running:
        yield running


async def test_an_org_from_creation_to_a_removed_member(
        stack: Stack, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = ("--api-url", stack.url)
    monkeypatch.setenv("LIFECYCLE_OPERATOR_TOKEN", OPERATOR_TOKEN)
    name = f"Cli Works {uuid.uuid4().hex[:8]}"  # the module's database outlives one test
    code, out, err = await cli(capsys, "orgs", "create", "--name", name,
                               "--admin-email", "boss@cli.example", *url)
    assert code == 0, err
    assert SHOWN_ONCE in out
    secret = next(line.split()[-1] for line in out.splitlines() if line.startswith("secret"))
    org_id = next(line.split()[-1] for line in out.splitlines() if line.startswith("id"))
    monkeypatch.setenv("LIFECYCLE_API_KEY", secret)

    code, out, err = await cli(capsys, "orgs", "list", "--q", name.lower(), "--json", *url)
    assert code == 0, err
    found = json.loads(out)["items"]  # the session's database holds other tests' orgs too
    assert org_id in [o["id"] for o in found]
    assert all(name.lower() in o["name"].lower() for o in found), found

    code, out, err = await cli(capsys, "members", "invite", org_id, "dev@cli.example", "--json",
                               *url)
    assert code == 0, err
    invitation = json.loads(out)
    token = mailed_token(stack.sessions, invitation["id"])
    code, out, err = await cli(capsys, "members", "accept", org_id, "--token", token,
                               "--name", "Dev", "--json", *url)
    assert code == 0, err
    joined = json.loads(out)
    member_id = joined["member"]["id"]
    code, _, err = await cli(capsys, "members", "accept", org_id, "--token", token, *url)
    assert code == 1 and "not valid" in err and token not in err

    code, out, err = await cli(capsys, "members", "role", org_id, member_id, "admin", *url)
    assert code == 0 and "now admin" in out, err
    code, out, err = await cli(capsys, "members", "list", org_id, *url)
    assert code == 0 and "(admin account)" in out and "dev@cli.example" in out, err
    admin_id = next(line.split()[0] for line in out.splitlines() if "(admin account)" in line)
    code, _, err = await cli(capsys, "members", "remove", org_id, admin_id, *url)
    assert code == 1 and "admin account" in err

    code, out, err = await cli(capsys, "members", "remove", org_id, member_id, "--wait",
                               "--json", *url)
    assert code == 0, err
    removal = json.loads(out)
    assert removal["status"] == "completed"
    assert {s["name"]: s["count"] for s in removal["steps"]}["revoke_keys"] == 1
    code, out, err = await cli(capsys, "members", "invitations", org_id, *url)
    assert code == 0 and "accepted" in out, err
    assert secret not in out + err
