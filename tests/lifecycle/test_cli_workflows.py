"""`lifecycle workflows ...` against a running stack on the Temporal dev server.

The dev server, not the time-skipping one: listing goes through Temporal's visibility store,
which only the dev server has. One stack (uvicorn + PostgreSQL + worker) serves the module;
each test runs its own org's teardown. Visibility and a run's close lag a moment behind what
the workflow reports, so those reads are polled until they show it.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from contracts.teardown import STEPS
from core.binaries import temporal_cli
from lifecycle.cli import main
from tests.support.api_support import OPERATOR_TOKEN, mint, seed_with_keys
from tests.support.cli_support import Stack, cli, cli_stack
from tests.support.teardown_support import eventually

TEARDOWN = "OrgTeardownWorkflow"


@pytest.fixture(scope="module")
async def stack(local_temporal: WorkflowEnvironment, postgres_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with cli_stack(local_temporal.client, postgres_url,
                         tmp_path_factory.mktemp("cli-workflows")) as running:
        yield running


@pytest.fixture(autouse=True)
def operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the operator token from the environment, as in production."""
    monkeypatch.setenv("LIFECYCLE_OPERATOR_TOKEN", OPERATOR_TOKEN)
    monkeypatch.delenv("LIFECYCLE_API_KEY", raising=False)


async def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = await cli(capsys, *argv)
    assert code == 0 and err == "", (argv, err)
    return json.loads(out)


async def _start(stack: Stack, capsys: pytest.CaptureFixture[str],
                 grace_seconds: int) -> tuple[str, str, str]:
    """A fresh org and its teardown, started through the CLI; org id, workflow id, admin key."""
    org = seed_with_keys(stack.sessions, stack.settings)
    # a key far from its expiry: the seed's own admin key may be one of its soon-expiring
    # demo keys, and the CLI then warns on stderr, which these tests read as empty
    admin = mint(stack.sessions, stack.settings, org.org.org_id, org.org.admin_member_id)
    started = await _json(capsys, "teardown", "start", org.org.org_id, "--api-url", stack.url,
                          "--api-key", admin, "--confirm", org.org.name,
                          "--grace-seconds", str(grace_seconds), "--json")
    return org.org.org_id, started["workflow_id"], admin


async def test_list_show_and_history_of_a_completed_teardown(
        stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    org_id, wid, admin = await _start(stack, capsys, grace_seconds=0)
    url = ("--api-url", stack.url)
    shown = await eventually(lambda: _json(capsys, "workflows", "show", wid, *url, "--json"),
                             lambda d: d["status"] == "completed", timeout=60)
    assert shown["type"] == TEARDOWN
    # a finished teardown still shows its steps, from the workflow's result
    steps = shown["progress"]["steps"]
    assert shown["progress"]["percent"] == 100.0 and steps[-1]["name"] == "certificate"
    assert {s["status"] for s in steps} <= {"done", "skipped"}, steps
    assert shown["ui_url"].endswith(f"/workflows/{wid}")

    # the org filter finds the teardown; its projects are purged by activities of its own (no
    # child workflows to list beside it)
    listed = await eventually(
        lambda: _json(capsys, "workflows", "list", "--org", org_id, *url, "--json"),
        lambda page: len(page["items"]) == 1
        and {w["status"] for w in page["items"]} == {"completed"})
    assert [w["type"] for w in listed["items"]] == [TEARDOWN]
    assert all(w["workflow_id"].startswith(wid) for w in listed["items"])
    running = await _json(capsys, "workflows", "list", "--org", org_id, "--status", "running",
                          "--type", TEARDOWN, *url, "--json")
    assert running["items"] == []

    code, out, err = await cli(capsys, "workflows", "list", "--org", org_id, "--type", TEARDOWN,
                               *url)
    assert code == 0 and err == "", err
    header, row = out.splitlines()
    assert header.split()[:4] == ["WORKFLOW", "ID", "TYPE", "STATUS"]
    assert row.split()[:3] == [wid, TEARDOWN, "completed"]
    assert row.index(TEARDOWN) == header.index("TYPE")

    code, out, err = await cli(capsys, "workflows", "show", wid, *url)
    assert code == 0 and err == "", err
    fields_part, step_table = out.split("\n\n", 1)
    record = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in fields_part.splitlines())
    assert record["workflow"] == wid and record["status"] == "completed"
    assert record["progress"].startswith("100.0% completed")
    step_rows = step_table.splitlines()
    assert step_rows[0].split()[:4] == ["STEP", "STATUS", "DONE", "TOTAL"]
    assert [r.split()[0] for r in step_rows[1:]] == [s["name"] for s in steps]
    assert record["temporal ui"] == shown["ui_url"] and record["closed"] != "-"
    assert record["history"] == f"{shown['history_length']} events"

    # a page of at most 5 (Temporal cuts pages at event-batch boundaries, so maybe fewer), the
    # next page from its token, then every page followed
    code, out, err = await cli(capsys, "workflows", "history", wid, *url, "--page-size", "5")
    assert code == 0 and err == "", err
    header, *rows, ui, hint = out.splitlines()
    assert header.split() == ["EVENT", "TIME", "TYPE", "ACTIVITY", "ATTEMPT", "FAILURE"]
    first = [int(r.split()[0]) for r in rows]
    assert 1 <= len(first) <= 5 and first == list(range(1, len(first) + 1))
    assert "workflow_execution_started" in rows[0]
    assert ui == f"temporal ui: {shown['ui_url']}"
    assert hint.startswith("more events: --next-page-token ")
    second = await _json(capsys, "workflows", "history", wid, *url, "--page-size", "5",
                         "--next-page-token", hint.split()[3], "--json")
    following = [e["event_id"] for e in second["events"]]
    assert 1 <= len(following) <= 5
    assert following == list(range(len(first) + 1, len(first) + 1 + len(following)))

    whole = await _json(capsys, "workflows", "history", wid, *url, "--page-size", "7",
                        "--all", "--json")
    events = whole["events"]
    assert whole["next_page_token"] is None
    assert [e["event_id"] for e in events] == list(range(1, shown["history_length"] + 1))
    assert events[0]["type"] == "workflow_execution_started"
    assert events[-1]["type"] == "workflow_execution_completed"
    assert {"freeze_org", "purge_project", "delete_org"} <= {e["activity"] for e in events}
    assert OPERATOR_TOKEN not in out and admin not in out


async def test_show_a_running_teardown_with_its_progress(
        stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    org_id, wid, admin = await _start(stack, capsys, grace_seconds=3600)
    url = ("--api-url", stack.url)
    detail = await eventually(
        lambda: _json(capsys, "workflows", "show", wid, *url, "--json"),
        lambda d: (d["progress"] or {}).get("current_step") == "grace")
    assert detail["status"] == "running" and detail["progress"]["cancellable"]
    listed = await eventually(
        lambda: _json(capsys, "workflows", "list", "--org", org_id, "--status", "running",
                      "--type", TEARDOWN, *url, "--json"),
        lambda page: bool(page["items"]))
    assert [w["workflow_id"] for w in listed["items"]] == [wid]

    code, out, err = await cli(capsys, "workflows", "show", wid, *url)
    assert code == 0 and err == "", err
    assert "step=grace cancellable=yes" in out
    steps = out.split("\n\n", 1)[1].splitlines()
    assert steps[0].split()[:4] == ["STEP", "STATUS", "DONE", "TOTAL"]
    assert [s.split()[0] for s in steps[1:]] == list(STEPS)
    assert steps[1].split()[:2] == ["freeze", "done"]

    code, out, err = await cli(capsys, "teardown", "cancel", org_id, *url, "--api-key", admin)
    assert code == 0, err  # leaves the org as it was, and no workflow behind on the server


async def test_errors_are_one_line_with_a_nonzero_exit(
        stack: Stack, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = ("--api-url", stack.url)
    results = {
        "unknown workflow": (await cli(capsys, "workflows", "show", "org-teardown-nope", *url),
                             1, "Not found: workflow org-teardown-nope does not exist"),
        "unknown history": (await cli(capsys, "workflows", "history", "org-teardown-nope",
                                      *url), 1, "Not found"),
        "bad token": (await cli(capsys, "workflows", "history", "x", *url,
                                "--next-page-token", "@@@"), 1, "Invalid input"),
        "unreachable": (await cli(capsys, "workflows", "list", "--api-url",
                                  "http://127.0.0.1:9"), 1, "cannot reach the API"),
    }
    monkeypatch.setenv("LIFECYCLE_OPERATOR_TOKEN", "not-the-operator-token-0123456789")
    results["wrong operator token"] = (await cli(capsys, "workflows", "list", *url), 1,
                                       "Authentication required")
    monkeypatch.setenv("LIFECYCLE_OPERATOR_TOKEN", "")
    results["no operator token"] = (await cli(capsys, "workflows", "list", *url), 2,
                                    "LIFECYCLE_OPERATOR_TOKEN")
    for case, ((code, out, err), want_code, words) in results.items():
        assert code == want_code, (case, code, err)
        assert out == "" and err.count("\n") == 1, (case, out, err)
        assert err.startswith("lifecycle workflows ") and words in err, (case, err)
        assert OPERATOR_TOKEN not in err and "not-the-operator-token" not in err, case

    with pytest.raises(SystemExit) as exited:
        main(["workflows", "list", "--status", "sleeping"])
    assert exited.value.code == 2


async def _temporal_list(stack: Stack, query: str) -> list[dict[str, Any]]:
    """`temporal workflow list --query ...` against the stack's server, as an operator types it."""
    target = stack.temporal.service_client.config.target_host
    done = await asyncio.to_thread(
        subprocess.run, [temporal_cli(), "workflow", "list", "--address", target,
                         "--namespace", stack.temporal.namespace, "--query", query,
                         "--output", "json"],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return listed


async def test_a_cancelled_teardown_is_found_by_its_own_status(
        stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    org_id, wid, admin = await _start(stack, capsys, grace_seconds=3600)
    url = ("--api-url", stack.url)
    await eventually(lambda: _json(capsys, "workflows", "show", wid, *url, "--json"),
                     lambda d: (d["progress"] or {}).get("status") == "grace", timeout=60)
    code, out, err = await cli(capsys, "teardown", "cancel", org_id, *url, "--api-key", admin)
    assert code == 0 and out.startswith("cancel accepted"), err

    # Temporal's execution status says "completed" (the workflow returned normally); the
    # search attribute says what happened, in Temporal's own tools and in ours
    found = await eventually(
        lambda: _temporal_list(stack, f'TeardownStatus="cancelled" AND OrgId="{org_id}"'),
        lambda rows: len(rows) == 1, timeout=30)
    assert found[0]["execution"]["workflowId"] == wid
    assert found[0]["status"] == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    assert await _temporal_list(stack, f'TeardownStatus="completed" AND OrgId="{org_id}"') == []

    listed = await _json(capsys, "workflows", "list", "--teardown-status", "cancelled",
                         "--org", org_id, *url, "--json")
    assert [(w["workflow_id"], w["status"], w["teardown_status"]) for w in listed["items"]] \
        == [(wid, "completed", "cancelled")]
    grace = await _json(capsys, "workflows", "list", "--teardown-status", "grace",
                        "--org", org_id, *url, "--json")
    assert grace["items"] == []
