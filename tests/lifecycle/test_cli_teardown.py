"""`lifecycle teardown ...` against a running stack: a real HTTP server (uvicorn on a free port),
the real app and database, the time-skipping Temporal server and a real worker (see
`tests/support/cli_support.py` for why a real socket).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from services.seeding import OrgShape
from store.models import Organization, OrgStatus
from tests.support.api_support import OPERATOR_TOKEN, api_settings, running_api, seed_with_keys
from tests.support.cli_support import cli
from tests.support.teardown_support import teardown_worker

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=7, members=2,
                 team_keys=1, project_keys_per_project=1, job_plans=1, usage_records=2,
                 invoices=1)


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads its settings from the environment, as in production."""
    monkeypatch.setenv("LIFECYCLE_OPERATOR_TOKEN", OPERATOR_TOKEN)
    monkeypatch.delenv("LIFECYCLE_API_KEY", raising=False)


@pytest.mark.usefixtures("operator_env")
async def test_start_and_follow_a_teardown_to_completion(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, name = org.org.org_id, org.org.name
    temporal = time_skipping_env.client
    monkeypatch.setenv("LIFECYCLE_API_KEY", org.admin)  # the env path for the key
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            running_api(api_settings(settings, task_queue=queue), temporal) as url:
        code, out, err = await cli(capsys, "teardown", "plan", org_id, "--api-url", url,
                                   "--json")
        assert code == 0, err
        plan = json.loads(out)
        assert plan["confirmation_phrase"] == name
        assert plan["counts"]["dataset_records"] == 2 * 2 * 7

        code, out, err = await cli(capsys, "teardown", "start", org_id, "--api-url", url,
                                   "--confirm", name, "--grace-seconds", "0", "--follow",
                                   "--interval", "0.05", "--timeout", "60")
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"teardown started: workflow org-teardown-{org_id}")
    polls = [line for line in lines if line.startswith("[")]
    assert polls, out
    assert all("step=" in line and "records_purged=" in line for line in polls)
    assert polls[-1].startswith("[100.0%] completed")
    assert "records_purged=28" in polls[-1]
    assert lines[-1].startswith("teardown completed; deletion certificate ")
    assert org.admin not in out
    with session_factory() as session:
        assert session.get(Organization, org_id) is None


@pytest.mark.usefixtures("operator_env")
async def test_start_status_and_cancel_in_grace(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, name = org.org.org_id, org.org.name
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            running_api(api_settings(settings, task_queue=queue), temporal) as url:
        base = ("--api-url", url, "--api-key", org.admin)
        code, out, err = await cli(capsys, "teardown", "start", org_id, *base, "--confirm",
                                   name, "--grace-seconds", "3600", "--json")
        assert code == 0, err
        assert json.loads(out)["workflow_id"] == f"org-teardown-{org_id}"

        status: dict[str, Any] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while status.get("status") != "grace":
            assert loop.time() < deadline, status
            code, out, err = await cli(capsys, "teardown", "status", org_id, *base, "--json")
            assert code == 0, err
            status = json.loads(out)
        assert status["cancellable"] and status["grace_deadline"]

        code, out, err = await cli(capsys, "teardown", "status", org_id, *base)
        assert code == 0 and out.startswith("[") and " grace " in out, (out, err)

        code, out, err = await cli(capsys, "teardown", "cancel", org_id, *base,
                                   "--reason", "changed our mind")
        assert code == 0, err
        assert out.startswith("cancel accepted")

        # the teardown is over: expedite is refused with the API's problem, in one line
        code, out, err = await cli(capsys, "teardown", "expedite", org_id, *base)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("lifecycle teardown expedite: ")
    assert "cannot be changed" in err
    with session_factory() as session:
        row = session.get(Organization, org_id)
        assert row is not None and row.status is OrgStatus.ACTIVE


@pytest.mark.usefixtures("operator_env")
async def test_errors_are_one_line_with_a_nonzero_exit(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, name = org.org.org_id, org.org.name
    temporal = time_skipping_env.client
    async with teardown_worker(temporal, settings, session_factory) as queue, \
            running_api(api_settings(settings, task_queue=queue), temporal) as url:
        base = ("--api-url", url, "--api-key", org.admin)
        wrong_name = await cli(capsys, "teardown", "start", org_id, *base,
                               "--confirm", name + "x")
        bad_key = await cli(capsys, "teardown", "plan", org_id, "--api-url", url,
                            "--api-key", "not-a-real-key-0123456789")
        member = await cli(capsys, "teardown", "plan", org_id, "--api-url", url,
                           "--api-key", org.member)
        # the operator token is set, but only a revoked admin key (401) switches to it: a
        # member's key is refused (403), and that refusal is the answer
        member_status = await cli(capsys, "teardown", "status", org_id, "--api-url", url,
                                  "--api-key", org.member)
        no_key = await cli(capsys, "teardown", "plan", org_id, "--api-url", url)
        no_confirm = await cli(capsys, "teardown", "start", org_id, *base)
    unreachable = await cli(capsys, "teardown", "status", org_id, "--api-url", url,
                            "--api-key", org.admin)

    def one_line(result: tuple[int, str, str], code: int, *words: str) -> str:
        got, out, err = result
        assert got == code, result
        assert out == "" and err.count("\n") == 1, result
        assert all(w in err for w in words), result
        assert org.admin not in err and org.member not in err
        return err

    one_line(wrong_name, 1, "Invalid input", "confirmation does not match")
    one_line(bad_key, 1, "lifecycle teardown plan: ")
    one_line(member, 1, "lifecycle teardown plan: ")
    one_line(member_status, 1, "lifecycle teardown status: ", "Not permitted")
    one_line(no_key, 2, "LIFECYCLE_API_KEY")
    one_line(no_confirm, 2, "--confirm")
    one_line(unreachable, 1, "cannot reach the API")
    with session_factory() as session:
        row = session.get(Organization, org_id)
        assert row is not None and row.status is OrgStatus.ACTIVE  # nothing was started
