"""`ProjectDeletionWorkflow`: delete one project of a live org, durably and provably.

Steps run in the order of `STEPS`: claim the API's request row (refused, with nothing
touched, when there is no unused one), freeze the project (its keys and writes refused), a
grace window in which `cancel` restores it exactly, then the teardown's own purge activity
(records in batches with heartbeats, then datasets, keys and the project), a check that
nothing of the project is left, and a deletion certificate. From the purge on, cancel is
refused with the reason. The history is a handful of events whatever the project's size: the
purge is one heartbeating activity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.project_deletion import ProjectDeletionActivities
    from activities.purge import PurgeActivities
    from activities.targets import TargetActivities
    from contracts.project_deletion import (
        CANCELLED,
        COMPLETED,
        DESTRUCTIVE_FROM,
        FAILED,
        IN_GRACE,
        RUNNING,
        STEPS,
        DeletionCancel,
        DeletionDecision,
        DeletionExpedite,
        DeletionProgress,
        DeletionState,
        DeletionStep,
        FailureNote,
        ProjectCertificateInput,
        ProjectDeletionInput,
        StepProgress,
        percent_done,
    )
    from contracts.teardown import ProjectStep, TargetPurgeResult, TargetStep
    from workflows.policies import (
        LONG,
        RETRY,
        check_cancellable,
        check_expeditable,
        short_step,
    )

A = TypeVar("A")
R = TypeVar("R")


def _reason(err: BaseException) -> str:
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


@workflow.defn
class ProjectDeletionWorkflow:
    @workflow.init
    def __init__(self, inp: ProjectDeletionInput) -> None:
        self.inp = inp
        self.state = DeletionState()
        self.cancel_request: DeletionCancel | None = None
        self.expedited = False
        self.grace_seconds = 0
        self.min_grace_seconds = 0
        self.grace_started: datetime | None = None

    @workflow.run
    async def run(self, inp: ProjectDeletionInput) -> DeletionProgress:
        current = ""
        try:
            for name in STEPS:
                step = self.state.step(name)
                if step.status in ("done", "skipped"):
                    continue
                current = name
                if name == DESTRUCTIVE_FROM and not self.state.destructive:
                    if self.cancel_request is not None:
                        return await self._restore()
                    self.state.destructive = True
                    await self._act(ProjectDeletionActivities.begin_project_destruction,
                                    self._step())
                await self._run_step(step)
        except ActivityError as err:
            return await self._fail(current, _reason(err))
        self.state.status = COMPLETED  # only now: a reader of "completed" finds it certified
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    async def _run_step(self, step: StepProgress) -> None:
        step.status = "running"
        step.started_at = workflow.now().isoformat()
        await getattr(self, "_" + step.name)(step)
        step.status = "done"
        step.finished_at = workflow.now().isoformat()

    # -- steps -----------------------------------------------------------------------------

    async def _claim_request(self, step: StepProgress) -> None:
        step.total = 1
        claim = await self._act(ProjectDeletionActivities.claim_deletion_request, self._step())
        self.grace_seconds = claim.grace_seconds
        self.min_grace_seconds = claim.min_grace_seconds
        step.done = 1

    async def _freeze(self, step: StepProgress) -> None:
        step.total = 1
        result = await self._act(ProjectDeletionActivities.freeze_project, self._step())
        self.state.project_name_hash = result.project_name_hash
        self.state.snapshot = result.snapshot
        self.state.targets = list(result.targets)
        step.done = 1
        if result.already_destructive:  # a new request resuming a deletion that failed
            self.state.destructive = True
            self.state.step("grace").status = "skipped"

    async def _grace(self, step: StepProgress) -> None:
        grace = timedelta(seconds=max(self.grace_seconds, self.min_grace_seconds, 0))
        self.grace_started = workflow.now()
        self.state.grace_deadline = (workflow.now() + grace).isoformat()
        self.state.status = IN_GRACE
        step.total = int(grace.total_seconds())
        if grace > timedelta(0):
            with contextlib.suppress(TimeoutError):  # the window ended without a decision
                await workflow.wait_condition(
                    lambda: self.cancel_request is not None or self.expedited, timeout=grace)
        step.done = step.total
        self.state.status = RUNNING

    async def _purge(self, step: StepProgress) -> None:
        step.total = self.state.snapshot.get("dataset_records", 0)
        project = ProjectStep(self.inp.org_id, self.inp.project_id, self.inp.batch_size,
                              request_id=self.inp.request_id)
        heartbeat = timedelta(seconds=self.inp.heartbeat_timeout_seconds)
        # The database and every other deletion target at once, one activity each.
        result, others = await asyncio.gather(
            workflow.execute_activity_method(
                PurgeActivities.purge_project, project, start_to_close_timeout=LONG,
                retry_policy=RETRY, heartbeat_timeout=heartbeat),
            asyncio.gather(*(self._purge_target(TargetStep(target, project), heartbeat)
                             for target in self.state.targets)))
        deleted = {"api_keys": result.api_keys, "dataset_records": result.records,
                   "datasets": result.datasets, "projects": 1}
        for other in others:
            deleted.update({f"{other.target}.{kind}": n for kind, n in other.counts.items()})
        self.state.deleted = dict(sorted(deleted.items()))
        step.done = result.records

    async def _purge_target(self, step: TargetStep, heartbeat: timedelta) -> TargetPurgeResult:
        return await workflow.execute_activity_method(
            TargetActivities.purge_target, step, start_to_close_timeout=LONG,
            retry_policy=RETRY, heartbeat_timeout=heartbeat)

    async def _verify_nothing_left(self, step: StepProgress) -> None:
        step.total = len(self.state.snapshot)
        self.state.verification = await self._act(
            ProjectDeletionActivities.verify_project_gone, self._step())
        step.done = step.total

    async def _certificate(self, step: StepProgress) -> None:
        step.total = 1
        step.finished_at = workflow.now().isoformat()
        self.state.certificate_id = await self._act(
            ProjectDeletionActivities.write_project_certificate,
            ProjectCertificateInput(
                step=self._step(), project_name_hash=self.state.project_name_hash,
                steps=[asdict(s) for s in self.state.steps],
                counts=dict(sorted(self.state.deleted.items())),
                verification=self.state.verification))
        step.done = 1

    # -- cancel and failure ----------------------------------------------------------------

    async def _restore(self) -> DeletionProgress:
        await self._act(ProjectDeletionActivities.unfreeze_project, self._step())
        self.state.status = CANCELLED
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    async def _fail(self, step: str, reason: str) -> DeletionProgress:
        self.state.status = FAILED
        self.state.last_error = f"{step}: {reason}"
        workflow.logger.error("deletion of project %s failed at %s: %s", self.inp.project_id,
                              step, reason)
        try:
            await self._act(ProjectDeletionActivities.fail_deletion_request,
                            FailureNote(self._step(), self.state.last_error))
        except ActivityError as err:
            workflow.logger.warning("failure not recorded: %s", _reason(err))
        await workflow.wait_condition(workflow.all_handlers_finished)
        raise ApplicationError(f"project deletion failed at step {step}: {reason}",
                               type="ProjectDeletionFailed", non_retryable=True)

    # -- updates and query -----------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: DeletionCancel) -> DeletionDecision:
        self.cancel_request = request
        await workflow.wait_condition(lambda: self.state.status not in (RUNNING, IN_GRACE)
                                      or self.state.destructive)
        if self.state.status == CANCELLED:
            return DeletionDecision(True, "deletion cancelled: the project is active again")
        return DeletionDecision(False, f"deletion could not be cancelled: {self.state.status}")

    @cancel.validator
    def _validate_cancel(self, request: DeletionCancel) -> None:
        check_cancellable("the deletion", self.state.status, self.state.destructive,
                          DESTRUCTIVE_FROM)

    @workflow.update
    async def expedite(self, request: DeletionExpedite) -> DeletionDecision:
        self.expedited = True
        return DeletionDecision(True, "grace window ended early: deletion proceeds now")

    @expedite.validator
    def _validate_expedite(self, request: DeletionExpedite) -> None:
        elapsed = ((workflow.now() - self.grace_started).total_seconds()
                   if self.grace_started else 0.0)
        check_expeditable(self.state.status, self.state.destructive,
                          self.cancel_request is not None, elapsed, self.min_grace_seconds)

    @workflow.query
    def progress(self) -> DeletionProgress:
        current = next((s.name for s in self.state.steps if s.status == "running"), None)
        return DeletionProgress(
            org_id=self.inp.org_id, project_id=self.inp.project_id,
            request_id=self.inp.request_id, status=self.state.status, current_step=current,
            steps=self.state.steps, percent=percent_done(self.state.steps),
            grace_deadline=self.state.grace_deadline,
            cancellable=not self.state.destructive and self.state.status in (RUNNING, IN_GRACE),
            snapshot=self.state.snapshot, deleted=self.state.deleted,
            last_error=self.state.last_error, certificate_id=self.state.certificate_id)

    # -- helpers ---------------------------------------------------------------------------

    def _step(self) -> DeletionStep:
        info = workflow.info()
        return DeletionStep(self.inp.org_id, self.inp.project_id, self.inp.request_id,
                            info.workflow_id, info.run_id)

    async def _act(self, method: Callable[[ProjectDeletionActivities, A], R], arg: A) -> R:
        return await short_step(method, arg,
                                timedelta(seconds=self.inp.step_timeout_seconds))
