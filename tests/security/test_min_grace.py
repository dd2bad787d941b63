"""A deletion's grace window never goes below the configured minimum.

Why: with a window of 0 one click (or one stolen admin key) deleted an org at once.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.grace import expedite_refusal, grace_window
from core.problems import InvalidInput
from core.settings import Settings
from lifecycle.devstack import DevPlan, dev_warnings
from services.seeding import OrgShape
from tests.support.api_support import (
    api_client,
    api_settings,
    bearer,
    problem,
    seed_with_keys,
    teardown_status,
)
from tests.support.teardown_support import eventually, teardown_worker

DAY = 24 * 3600
SHAPE = OrgShape(projects=1, datasets_per_project=1, records_per_dataset=1, members=2,
                 team_keys=1)


def test_the_minimum_is_the_default_setting() -> None:
    assert Settings.model_fields["min_grace_seconds"].default == DAY


def test_grace_window_refuses_below_the_minimum_and_raises_the_default() -> None:
    assert grace_window(None, 3600, DAY, 30 * DAY) == DAY
    assert grace_window(2 * DAY, 3600, DAY, 30 * DAY) == 2 * DAY
    try:
        grace_window(0, 3600, DAY, 30 * DAY)
    except InvalidInput as exc:
        assert exc.extensions["field"] == "grace_seconds"
    else:
        raise AssertionError("a window of 0 was accepted")
    assert expedite_refusal(DAY - 1, DAY) is not None
    assert expedite_refusal(DAY, DAY) is None


def test_grace_window_refuses_above_the_maximum_and_caps_the_default() -> None:
    assert grace_window(None, 60 * DAY, DAY, 30 * DAY) == 30 * DAY
    assert grace_window(30 * DAY, 3600, DAY, 30 * DAY) == 30 * DAY
    with pytest.raises(InvalidInput) as refused:
        grace_window(30 * DAY + 1, 3600, DAY, 30 * DAY)
    assert refused.value.extensions == {"field": "grace_seconds", "maximum": 30 * DAY}
    assert Settings.model_fields["max_grace_seconds"].default == 30 * DAY
    with pytest.raises(ValidationError, match="LIFECYCLE_MAX_GRACE_SECONDS"):
        Settings(min_grace_seconds=2 * DAY, max_grace_seconds=DAY)


async def test_a_teardown_or_project_deletion_below_the_minimum_is_a_422(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    async with api_client(api_settings(settings, min_grace_seconds=DAY),
                          time_skipping_env.client) as client:
        for grace in (0, DAY - 1):
            refused = await client.post(f"/orgs/{org_id}/teardown", headers=admin, json={
                "confirm_name": org.org.name, "grace_seconds": grace})
            assert problem(refused, 422, "invalid-input")["field"] == "grace_seconds"
        project_id = org.org.project_ids[0]
        refused = await client.post(f"/orgs/{org_id}/projects/{project_id}/deletion",
                                    headers=admin, json={"confirm_name": "x", "grace_seconds": 0})
        assert problem(refused, 422, "invalid-input")["field"] == "grace_seconds"
        # nothing was frozen: the org still answers its admin
        assert (await client.get(f"/orgs/{org_id}", headers=admin)).status_code == 200


async def test_expedite_is_refused_until_the_minimum_has_passed(
        own_time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings, SHAPE)
    org_id, admin = org.org.org_id, bearer(org.admin)
    env = own_time_skipping_env
    async with teardown_worker(env.client, settings, session_factory) as queue, \
            api_client(api_settings(settings, task_queue=queue, min_grace_seconds=DAY),
                       env.client) as client:
        started = await client.post(f"/orgs/{org_id}/teardown", headers=admin, json={
            "confirm_name": org.org.name, "grace_seconds": 3 * DAY})
        assert started.status_code == 202, started.text
        await eventually(lambda: teardown_status(client, org_id, admin),
                         lambda s: s["status"] == "grace")
        refused = problem(await client.post(f"/orgs/{org_id}/teardown/expedite",
                                            headers=admin), 409)
        assert "minimum" in refused["detail"]
        await env.sleep(timedelta(seconds=DAY + 60))
        done = await client.post(f"/orgs/{org_id}/teardown/expedite", headers=admin)
        assert done.status_code == 200 and done.json()["accepted"], done.text


def test_lifecycle_dev_drops_the_minimum_only_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = argparse.Namespace(api_host=None, api_port=None, temporal_port=None, ui_port=None)
    monkeypatch.delenv("LIFECYCLE_MIN_GRACE_SECONDS", raising=False)
    plan = DevPlan.resolve(Settings(data_dir=tmp_path), args)
    env = plan.child_env()
    assert env["LIFECYCLE_MIN_GRACE_SECONDS"] == "0" and env["LIFECYCLE_DEVELOPMENT"] == "true"
    assert any("minimum grace 0s" in w for w in dev_warnings(plan))
    # set explicitly, the minimum holds in development too, and nothing is said about it
    monkeypatch.setenv("LIFECYCLE_MIN_GRACE_SECONDS", str(DAY))
    plan = DevPlan.resolve(Settings(data_dir=tmp_path), args)
    assert plan.child_env()["LIFECYCLE_MIN_GRACE_SECONDS"] == str(DAY)
    assert not any("minimum grace" in w for w in dev_warnings(plan))
