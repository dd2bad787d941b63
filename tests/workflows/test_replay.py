"""Replay recorded histories against today's workflow code.

A change to a workflow that would break executions already running (a reordered step, a new
activity call without `workflow.patched`) fails here with a non-determinism error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows import all_workflows

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_fixtures_cover_every_workflow() -> None:
    recorded = {json.loads(p.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
                ["workflowType"]["name"] for p in HISTORIES}
    assert recorded == {w.__name__ for w in all_workflows()}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=all_workflows()).replay_workflow(history)
    assert result.replay_failure is None
