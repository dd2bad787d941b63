"""`MemberOffboardingWorkflow`: take a removed member out of an org, durably and audited.

Steps run in the order of `STEPS`: claim the API's removal request (refused, with nothing
touched, when there is no unused one), revoke the team keys the member created, release
their quotas, end their console sign-in, notify the admin and the member, delete the member
row (which closes the request). The member's keys were refused from the moment the request
was written (the key check reads the member's status), so nothing here races them. Each step
is a short idempotent activity whose count is recorded once, so a crash at any point resumes
with the same counts. The history is a fixed handful of events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.member_offboarding import MemberOffboardingActivities
    from contracts.member_offboarding import (
        COMPLETED,
        FAILED,
        RUNNING,
        STEPS,
        MemberOffboardingInput,
        OffboardingFailure,
        OffboardingProgress,
        OffboardingStep,
        StepProgress,
        percent_done,
    )
    from workflows.policies import short_step

A = MemberOffboardingActivities
ACTIVITIES: dict[str, Callable[[A, OffboardingStep], Any]] = {
    "claim_request": A.claim_removal_request,
    "revoke_keys": A.revoke_member_keys,
    "release_quotas": A.release_member_quotas,
    "end_sessions": A.end_member_sign_in,
    "notify": A.notify_offboarding,
    "remove_member": A.delete_member_row,
}


def _reason(err: BaseException) -> str:
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


@workflow.defn
class MemberOffboardingWorkflow:
    @workflow.init
    def __init__(self, inp: MemberOffboardingInput) -> None:
        self.inp = inp
        self.steps = [StepProgress(name) for name in STEPS]
        self.status = RUNNING
        self.counts: dict[str, int] = {}
        self.last_error: str | None = None

    @workflow.run
    async def run(self, inp: MemberOffboardingInput) -> OffboardingProgress:
        timeout = timedelta(seconds=inp.step_timeout_seconds)
        for step in self.steps:
            step.status = "running"
            step.started_at = workflow.now().isoformat()
            step.total = 1
            try:
                result = await short_step(ACTIVITIES[step.name], self._step(step.name),
                                          timeout)
            except ActivityError as err:
                return await self._fail(step.name, _reason(err))
            if isinstance(result, int):
                self.counts[step.name] = result
                step.total = step.done = result
            else:
                step.done = 1
            step.status = "done"
            step.finished_at = workflow.now().isoformat()
        self.status = COMPLETED
        return self.progress()

    async def _fail(self, step: str, reason: str) -> OffboardingProgress:
        self.status = FAILED
        self.last_error = f"{step}: {reason}"
        workflow.logger.error("offboarding of member %s failed at %s: %s",
                              self.inp.member_id, step, reason)
        try:
            await short_step(A.fail_removal_request,
                             OffboardingFailure(self._step(step), self.last_error),
                             timedelta(seconds=self.inp.step_timeout_seconds))
        except ActivityError as err:
            workflow.logger.warning("failure not recorded: %s", _reason(err))
        raise ApplicationError(f"member offboarding failed at step {step}: {reason}",
                               type="MemberOffboardingFailed", non_retryable=True)

    @workflow.query
    def progress(self) -> OffboardingProgress:
        current = next((s.name for s in self.steps if s.status == "running"), None)
        return OffboardingProgress(
            org_id=self.inp.org_id, member_id=self.inp.member_id,
            request_id=self.inp.request_id, status=self.status, current_step=current,
            steps=self.steps, percent=percent_done(self.steps), counts=dict(self.counts),
            last_error=self.last_error)

    def _step(self, name: str) -> OffboardingStep:
        info = workflow.info()
        return OffboardingStep(self.inp.org_id, self.inp.member_id, self.inp.request_id,
                               info.workflow_id, info.run_id, name)
