"""Replay recorded histories against today's workflow code.

A change to a workflow that would break executions already running (a reordered step, a new
or dropped activity call) fails here with a non-determinism error. Nothing is released yet, so
such a change re-records the fixtures (tests/workflows/histories/record*.py); the second test
keeps this one honest by replaying every fixture against a changed copy of its workflow.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from contracts.member_offboarding import MemberOffboardingInput, OffboardingProgress
from contracts.outbox import OutboxDeliveryInput, OutboxDeliveryResult
from contracts.project_deletion import DeletionProgress, ProjectDeletionInput
from contracts.subscriptions import (
    SubscribeInput,
    SubscribeResult,
    SubscriptionCancelInput,
    SubscriptionCancelResult,
)
from contracts.sweep import SweepInput, SweepResult
from contracts.teardown import Progress, TeardownInput
from workflows import all_workflows
from workflows.member_offboarding import MemberOffboardingWorkflow
from workflows.outbox import OutboxDeliveryWorkflow
from workflows.project_deletion import ProjectDeletionWorkflow
from workflows.subscriptions import SubscriptionCancelWorkflow, SubscriptionCreateWorkflow
from workflows.sweep import KeyExpirySweepWorkflow
from workflows.teardown import OrgTeardownWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def _workflow_type(path: Path) -> str:
    started = json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
    return str(started["workflowType"]["name"])


# -- incompatible changes, one per workflow, registered under the real workflow's name ----------


@workflow.defn(name="OrgTeardownWorkflow", sandboxed=False)
class TeardownWithoutNotices(OrgTeardownWorkflow):
    """The teardown no longer tells the admin anything: its notice steps are gone."""

    @workflow.init
    def __init__(self, inp: TeardownInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: TeardownInput) -> Progress:
        return await super().run(inp)

    async def _notify(self, kind: str, detail: str = "") -> None:
        return None


@workflow.defn(name="KeyExpirySweepWorkflow", sandboxed=False)
class SweepWaitingFirst(KeyExpirySweepWorkflow):
    """The sweep waits a second (a new timer) before its first page."""

    @workflow.run
    async def run(self, sweep: SweepInput) -> SweepResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(sweep)


@workflow.defn(name="SubscriptionCancelWorkflow", sandboxed=False)
class SubscriptionCancelWaitingFirst(SubscriptionCancelWorkflow):
    """The cancel waits a second (a new timer) before calling billing."""

    @workflow.run
    async def run(self, inp: SubscriptionCancelInput) -> SubscriptionCancelResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


@workflow.defn(name="SubscriptionCreateWorkflow", sandboxed=False)
class SubscribeWaitingFirst(SubscriptionCreateWorkflow):
    """The subscribe waits a second (a new timer) before calling billing."""

    @workflow.run
    async def run(self, inp: SubscribeInput) -> SubscribeResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


@workflow.defn(name="ProjectDeletionWorkflow", sandboxed=False)
class DeletionWaitingFirst(ProjectDeletionWorkflow):
    """The deletion waits a second (a new timer) before claiming its request."""

    @workflow.init
    def __init__(self, inp: ProjectDeletionInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ProjectDeletionInput) -> DeletionProgress:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


@workflow.defn(name="OutboxDeliveryWorkflow", sandboxed=False)
class OutboxDeliveryWaitingFirst(OutboxDeliveryWorkflow):
    """The delivery waits a second (a new timer) before its first attempt."""

    @workflow.run
    async def run(self, inp: OutboxDeliveryInput) -> OutboxDeliveryResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


@workflow.defn(name="MemberOffboardingWorkflow", sandboxed=False)
class OffboardingWaitingFirst(MemberOffboardingWorkflow):
    """The offboarding waits a second (a new timer) before claiming its request."""

    @workflow.init
    def __init__(self, inp: MemberOffboardingInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: MemberOffboardingInput) -> OffboardingProgress:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


CHANGED: dict[str, type[Any]] = {
    "MemberOffboardingWorkflow": OffboardingWaitingFirst,
    "OrgTeardownWorkflow": TeardownWithoutNotices,
    "KeyExpirySweepWorkflow": SweepWaitingFirst,
    "SubscriptionCancelWorkflow": SubscriptionCancelWaitingFirst,
    "SubscriptionCreateWorkflow": SubscribeWaitingFirst,
    "ProjectDeletionWorkflow": DeletionWaitingFirst,
    "OutboxDeliveryWorkflow": OutboxDeliveryWaitingFirst,
}


# -- tests ------------------------------------------------------------------------------------


def test_fixtures_and_changed_copies_cover_every_workflow() -> None:
    registered = {w.__name__ for w in all_workflows()}
    assert {_workflow_type(p) for p in HISTORIES} == registered
    assert set(CHANGED) == registered


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=all_workflows()).replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_an_incompatible_change_fails_replay(path: Path) -> None:
    name = _workflow_type(path)
    workflows = [CHANGED[name] if w.__name__ == name else w for w in all_workflows()]
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=workflows).replay_workflow(history)
