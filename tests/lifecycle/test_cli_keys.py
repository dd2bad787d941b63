"""`lifecycle keys ...` against a running stack: uvicorn + PostgreSQL + Temporal + a real worker.

One stack serves the module (PostgreSQL only: what is under test is the CLI's HTTP side, the
routes have their own tests on both databases); each test seeds its own org.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from lifecycle.cli import main
from lifecycle.keys_cli import SHOWN_ONCE
from store.models import ApiKey
from tests.support.api_support import OrgKeys, seed_with_keys
from tests.support.cli_support import Stack, cli, cli_stack

Result = tuple[int, str, str]


@pytest.fixture(scope="module")
async def stack(time_skipping_env: WorkflowEnvironment, postgres_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with cli_stack(time_skipping_env.client, postgres_url,
                         tmp_path_factory.mktemp("cli-keys")) as running:
        yield running


@pytest.fixture
def org(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> OrgKeys:
    """A fresh org; its admin key in LIFECYCLE_API_KEY, as an operator would set it."""
    seeded = seed_with_keys(stack.sessions, stack.settings)
    monkeypatch.setenv("LIFECYCLE_API_KEY", seeded.admin)
    return seeded


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _listed_ids(result: Result) -> list[str]:
    code, out, err = result
    assert code == 0, err
    return [k["id"] for k in json.loads(out)["items"]]


def _db_key_ids(stack: Stack, org_id: str) -> set[str]:
    with stack.sessions() as session:
        return set(session.scalars(select(ApiKey.id).where(ApiKey.org_id == org_id)))


def _live_key_id(stack: Stack, org_id: str) -> str:
    """One key the extend case can reach its cap check with: never a revoked seeded key."""
    with stack.sessions() as session:
        key_id = session.scalars(select(ApiKey.id).where(
            ApiKey.org_id == org_id, ApiKey.revoked_at.is_(None)).order_by(ApiKey.id)).first()
    assert key_id is not None, "the seeded org has no live key"
    return key_id


async def test_create_list_extend_delete(stack: Stack, org: OrgKeys,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)

    code, out, err = await cli(capsys, "keys", "create", org_id, *url, "--name", "ci deploy",
                               "--days", "30", "--json")
    assert code == 0, err
    made = json.loads(out)
    key_id, secret = made["key"]["id"], made["secret"]
    assert secret.startswith("olt_") and made["key"]["scope"] == "team"
    assert SHOWN_ONCE in err  # the warning, kept off stdout so it stays one JSON document
    created_expiry = _at(made["key"]["expires_at"])

    # human output of a project key: the secret once, with the warning; and it is a real key
    project_id = org.org.project_ids[1]
    code, out, err = await cli(capsys, "keys", "create", org_id, *url, "--name", "etl",
                               "--project", project_id)
    assert code == 0 and err == "", err
    assert out.count("olp_") == 2 and SHOWN_ONCE in out  # prefix and secret
    project_secret = next(line.split()[-1] for line in out.splitlines()
                          if line.startswith("secret"))
    code, out, err = await cli(capsys, "keys", "list", org_id, *url, "--project", project_id,
                               "--api-key", project_secret)
    assert code == 0, err
    assert "etl" in out and "ci deploy" not in out  # the project's keys only
    assert project_secret not in out

    code, out, err = await cli(capsys, "keys", "list", org_id, *url, "--limit", "200")
    assert code == 0 and err == "", err
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["ID", "NAME", "PREFIX", "SCOPE"]
    row = next(r for r in rows if r.startswith(key_id))
    assert "ci deploy" in row and secret[:12] in row and " active " in row
    assert header.index("NAME") == row.index("ci deploy")  # aligned under its header
    assert secret not in out and project_secret not in out and org.admin not in out

    code, out, err = await cli(capsys, "keys", "extend", org_id, key_id, *url, "--days", "10",
                               "--json")
    assert code == 0, err
    assert _at(json.loads(out)["expires_at"]) - created_expiry == timedelta(days=10)
    code, out, err = await cli(capsys, "keys", "extend", org_id, key_id, *url, "--days", "1")
    assert code == 0 and out.startswith(f"key {key_id} ({secret[:12]}) now expires "), err

    code, out, err = await cli(capsys, "keys", "delete", org_id, key_id, *url)
    assert code == 0 and out.startswith("deleted 1 key\n") and key_id in out, err
    listing = await cli(capsys, "keys", "list", org_id, *url, "--all", "--json")
    assert key_id not in _listed_ids(listing)
    assert key_id not in _db_key_ids(stack, org_id)


async def test_bulk_delete_needs_the_typed_count(stack: Stack, org: OrgKeys,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    ids = []
    for name in ("one", "two"):
        code, out, err = await cli(capsys, "keys", "create", org_id, *url, "--name", name,
                                   "--json")
        assert code == 0, err
        ids.append(json.loads(out)["key"]["id"])

    unconfirmed = await cli(capsys, "keys", "delete", org_id, *ids, *url)
    assert unconfirmed[0] == 2 and 'needs --confirm "DELETE 2 KEYS"' in unconfirmed[2]
    assert set(ids) <= _db_key_ids(stack, org_id)  # nothing was sent

    code, out, err = await cli(capsys, "keys", "delete", org_id, *ids, *url,
                               "--confirm", "DELETE 2 KEYS", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["deleted"] == 2
    assert sorted(t["key_id"] for t in result["tombstones"]) == sorted(ids)
    assert not set(ids) & _db_key_ids(stack, org_id)


async def test_list_pages_and_follows_the_cursor(stack: Stack, org: OrgKeys,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    everything = _db_key_ids(stack, org_id)
    assert len(everything) >= 5  # several pages of 2

    code, out, err = await cli(capsys, "keys", "list", org_id, *url, "--limit", "2")
    assert code == 0, err
    *table, hint = out.splitlines()
    assert len(table) == 1 + 2 and hint.startswith("more keys: --cursor ")
    cursor = hint.split()[3]
    first = await cli(capsys, "keys", "list", org_id, *url, "--limit", "2", "--json")
    second = await cli(capsys, "keys", "list", org_id, *url, "--limit", "2", "--json",
                       "--cursor", cursor)
    assert not set(_listed_ids(first)) & set(_listed_ids(second))

    code, out, err = await cli(capsys, "keys", "list", org_id, *url, "--limit", "2", "--all",
                               "--json")
    assert code == 0, err
    merged: dict[str, Any] = json.loads(out)
    assert merged["next_cursor"] is None
    ids = [k["id"] for k in merged["items"]]
    assert len(ids) == len(set(ids)) and set(ids) == everything


async def test_errors_are_one_line_with_a_nonzero_exit(
        stack: Stack, org: OrgKeys, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    some_key = _live_key_id(stack, org_id)
    results = {
        "unknown org": (await cli(capsys, "keys", "list", "no-such-org", *url), 1,
                        "lifecycle keys list: Not permitted: "),
        "bad key": (await cli(capsys, "keys", "list", org_id, *url, "--api-key",
                              "olt_not-a-real-key-0123456789"), 1, "Authentication required"),
        "member key": (await cli(capsys, "keys", "create", org_id, *url, "--name", "x",
                                 "--api-key", org.member), 1, "Not permitted"),
        "unknown key": (await cli(capsys, "keys", "extend", org_id, "no-such-key", *url,
                                  "--days", "3"), 1, "Not found: key no-such-key"),
        "days past the org's cap": (await cli(capsys, "keys", "extend", org_id, some_key, *url,
                                              "--days", "3000"), 1, "Invalid input: "),
        "days out of range": (await cli(capsys, "keys", "create", org_id, *url, "--name", "x",
                                        "--days", "4000"), 1, "expires_in_days"),
        "unconfirmed single": (await cli(capsys, "keys", "delete", org_id, some_key, *url,
                                         "--confirm", "DELETE 1 KEYS"), 2, "--confirm"),
    }
    monkeypatch.delenv("LIFECYCLE_API_KEY")
    results["no key"] = (await cli(capsys, "keys", "list", org_id, *url), 2,
                         "LIFECYCLE_API_KEY")
    results["unreachable"] = (await cli(capsys, "keys", "list", org_id, "--api-url",
                                        "http://127.0.0.1:9", "--api-key", org.admin), 1,
                              "cannot reach the API")
    for case, ((code, out, err), want_code, words) in results.items():
        assert code == want_code, (case, code, err)
        assert out == "" and err.count("\n") == 1, (case, out, err)
        assert err.startswith("lifecycle keys ") and words in err, (case, err)
        assert org.admin not in err and org.member not in err, case
    assert some_key in _db_key_ids(stack, org_id)  # no error changed anything

    # argparse's own usage errors (bad days) exit 2 before any request
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["keys", "extend", org_id, some_key, "--days", "0"])
    assert exited.value.code == 2
    assert "--days: must be at least 1" in capsys.readouterr().err


async def test_roll_makes_a_new_key_and_keeps_the_old_one_working_for_the_overlap(
        stack: Stack, org: OrgKeys, capsys: pytest.CaptureFixture[str]) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    code, out, err = await cli(capsys, "keys", "create", org_id, *url, "--name", "deploy",
                               "--json")
    assert code == 0, err
    old_id, old_secret = json.loads(out)["key"]["id"], json.loads(out)["secret"]
    code, out, err = await cli(capsys, "keys", "roll", org_id, old_id, *url, "--overlap", "2h")
    assert code == 0 and SHOWN_ONCE in out, err
    new_secret = next(line.split()[-1] for line in out.splitlines()
                      if line.startswith("secret"))
    assert new_secret.startswith("olt_") and new_secret != old_secret
    # both secrets work during the overlap: each lists the org's keys, the two linked
    for secret in (old_secret, new_secret):
        listing = await cli(capsys, "keys", "list", org_id, *url, "--all", "--json",
                            "--api-key", secret)
        assert old_id in _listed_ids(listing)
    items = json.loads(listing[1])["items"]
    new = next(k for k in items if k["prefix"] == new_secret[:12])
    old = next(k for k in items if k["id"] == old_id)
    assert new["rolled_from"] == old_id and new["name"] == old["name"] == "deploy"
    overlap = _at(old["expires_at"]) - _at(new["created_at"])
    assert timedelta(hours=2) - timedelta(minutes=1) < overlap <= timedelta(hours=2)
    code, _, err = await cli(capsys, "keys", "roll", org_id, old_id, *url, "--overlap", "8d")
    assert code != 0 and ("7 days" in err or "604800" in err)


async def test_a_command_run_with_a_key_expiring_soon_warns_once_on_stderr(
        stack: Stack, org: OrgKeys, capsys: pytest.CaptureFixture[str]) -> None:
    org_id, url = org.org.org_id, ("--api-url", stack.url)
    code, out, err = await cli(capsys, "keys", "create", org_id, *url, "--name", "short",
                               "--days", "3", "--json")
    assert code == 0, err
    short = json.loads(out)["secret"]
    code, out, err = await cli(capsys, "keys", "list", org_id, *url, "--all", "--json",
                               "--api-key", short)
    assert code == 0 and json.loads(out)["items"], err  # stdout stays the JSON document
    (line,) = err.splitlines()
    assert line.startswith("warning: this key expires in 3 days: ") and "keys roll" in line
    code, _, err = await cli(capsys, "keys", "list", org_id, *url)  # a long-lived key: silent
    assert code == 0 and err == ""
