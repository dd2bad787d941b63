"""`OrgTeardownWorkflow`: delete an organization and everything it owns, durably and provably.

Steps run in the order of `STEPS`. Until the first destructive step the teardown can be
cancelled (the org is restored exactly); from then on cancel is refused with the reason. The
state (per-step progress, counts, cursor) lives in one dataclass that is carried across
continue-as-new, so the parent's history stays bounded however many projects an org has.

Temporal round trips are kept off the critical path (see docs/teardown.md): short steps run as
local activities, subscriptions are listed once and cancelled concurrently, the "requested"
notice is queued beside the next steps, and each project is purged by one heartbeating activity
of this workflow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.purge import PurgeActivities
    from activities.targets import TargetActivities
    from activities.teardown import TeardownActivities
    from contracts.teardown import (
        CANCELLED,
        COMPLETED,
        DESTRUCTIVE_FROM,
        FAILED,
        IN_GRACE,
        ORG_ID,
        RUNNING,
        STEPS,
        TEARDOWN_STATUS,
        CancelRequest,
        CancelResult,
        CertificateInput,
        ExpediteRequest,
        ExpediteResult,
        Notice,
        OrgStep,
        Progress,
        ProjectPage,
        ProjectPurgeResult,
        ProjectStep,
        StepCount,
        StepProgress,
        SubscriptionStep,
        TargetPurgeResult,
        TargetStep,
        TeardownFailure,
        TeardownInput,
        TeardownState,
        percent_done,
    )
    from workflows.policies import (
        LONG,
        RETRY,
        check_cancellable,
        check_expeditable,
        short_step,
    )

REMINDER_BEFORE = timedelta(days=1)
A = TypeVar("A")
R = TypeVar("R")


def _reason(err: BaseException) -> str:
    """The innermost message: what actually went wrong, not the wrapper's."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


@workflow.defn
class OrgTeardownWorkflow:
    @workflow.init
    def __init__(self, inp: TeardownInput) -> None:
        self.inp = inp
        self.state = inp.carried or TeardownState()
        self.cancel_request: CancelRequest | None = None
        self.expedited = False
        self.subscriptions: dict[str, list[str]] | None = None
        self.notices: list[asyncio.Task[None]] = []

    # -- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: TeardownInput) -> Progress:
        self.state.first_run_id = self.state.first_run_id or workflow.info().run_id
        workflow.upsert_search_attributes([ORG_ID.value_set(self.inp.org_id)])
        self._set_status(self.state.status)
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
                    await self._act(TeardownActivities.begin_destruction, self._org_step())
                await self._run_step(step)
        except ActivityError as err:
            return await self._fail(current, _reason(err))
        await self._settle_notices()
        await self._notify("completed")
        self._set_status(COMPLETED)  # only now: a reader of "completed" finds the run done
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    async def _run_step(self, step: StepProgress) -> None:
        step.status = "running"
        step.started_at = step.started_at or workflow.now().isoformat()
        await getattr(self, "_" + step.name)(step)
        step.status = "done"
        step.finished_at = workflow.now().isoformat()

    # -- steps -----------------------------------------------------------------------------

    async def _freeze(self, step: StepProgress) -> None:
        step.total = 1
        result = await self._act(TeardownActivities.freeze_org, self._org_step())
        self.state.grace_seconds = result.grace_seconds
        self.state.min_grace_seconds = result.min_grace_seconds
        self.state.org_name_hash = result.org_name_hash
        self.state.snapshot = result.snapshot
        self.state.targets = list(result.targets)
        step.done = 1
        if result.already_destructive:  # a resumed teardown: the point of no return is behind
            self.state.destructive = True
            self.state.step("grace").status = "skipped"
        else:  # queued beside the next steps; awaited before the run ends
            self.notices.append(asyncio.create_task(self._notify("requested")))

    async def _grace(self, step: StepProgress) -> None:
        grace = timedelta(seconds=max(self.state.grace_seconds, self.state.min_grace_seconds, 0))
        self.state.grace_started = workflow.now().isoformat()
        deadline = workflow.now() + grace
        self.state.grace_deadline = deadline.isoformat()
        self._set_status(IN_GRACE)
        # Counted in seconds of the window: `done` is how long it actually lasted, so a
        # window ended early by expedite (or cancel) shows less than its `total`.
        started = workflow.now()
        step.total = int(grace.total_seconds())
        if grace > REMINDER_BEFORE and not await self._wait_for_decision(grace - REMINDER_BEFORE):
            await self._notify("grace_ending")
        await self._wait_for_decision(deadline - workflow.now())
        step.done = min(int((workflow.now() - started).total_seconds()), step.total)
        self._set_status(RUNNING)

    async def _wait_for_decision(self, timeout: timedelta) -> bool:
        """Wait up to `timeout` for cancel or expedite; True when one of them came."""
        def decided() -> bool:
            return self.cancel_request is not None or self.expedited

        if timeout <= timedelta(0):
            return decided()
        try:
            await workflow.wait_condition(decided, timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def _unsubscribe_job_plans(self, step: StepProgress) -> None:
        subs = await self._list_subscriptions()
        await self._cancel_each(step, subs.get("job_plan", []))

    async def _cancel_workspace_capacity(self, step: StepProgress) -> None:
        subs = await self._list_subscriptions()
        await self._cancel_each(step, subs.get("workspace_capacity", []))

    async def _list_subscriptions(self) -> dict[str, list[str]]:
        """The active subscriptions by kind, listed once for both billing steps (the job-plan
        cancellations cannot change which capacity plans are active)."""
        if self.subscriptions is None:
            self.subscriptions = await self._act(TeardownActivities.list_subscriptions,
                                                 self._org_step())
        return self.subscriptions

    async def _cancel_each(self, step: StepProgress, ids: list[str]) -> None:
        """One activity per subscription, so each cancellation is its own retried call; they
        are independent (own idempotency keys), so they run concurrently."""
        step.total = len(ids)

        async def cancel(sub_id: str) -> None:
            await self._act(TeardownActivities.cancel_subscription,
                            SubscriptionStep(self.inp.org_id, self._wid(), sub_id,
                                             self.inp.request_id, self._claim_run()))
            step.done += 1

        await asyncio.gather(*(cancel(sub_id) for sub_id in ids))

    async def _purge_projects(self, step: StepProgress) -> None:
        step.total = self.state.snapshot.get("projects", 0)
        gate = asyncio.Semaphore(max(self.inp.purge_concurrency, 1))

        async def purge(project_id: str) -> None:
            async with gate:  # the database and every other target of the project at once
                result, others = await asyncio.gather(
                    self._purge_one(project_id),
                    asyncio.gather(*(self._purge_target(target, project_id)
                                     for target in self.state.targets)))
            for other in others:
                for kind, count in sorted(other.counts.items()):
                    self._add_deleted(f"{other.target}.{kind}", count)
            self._add_deleted("dataset_records", result.records)
            self._add_deleted("datasets", result.datasets)
            self._add_deleted("api_keys", result.api_keys)
            self._add_deleted("projects", 1)
            self.state.records_purged += result.records
            step.done += 1

        pages = 0
        while True:
            page = await self._act(TeardownActivities.list_project_page, ProjectPage(
                self.inp.org_id, self.state.project_cursor, self.inp.project_page_size))
            if not page:
                return
            await asyncio.gather(*(purge(pid) for pid in page))
            self.state.project_cursor = page[-1]
            pages += 1
            if pages >= self.inp.pages_per_run or workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()

    async def _purge_one(self, project_id: str) -> ProjectPurgeResult:
        """One project: a regular activity, since it is long and heartbeats its cursor.

        One activity, not a child workflow of a records step and a project step: it adds three
        events to this history (scheduled, started, completed; heartbeats and retries add
        none) and costs one task-queue round trip, with no child start or workflow tasks of its
        own on the critical path of every project.
        """
        return await workflow.execute_activity_method(
            PurgeActivities.purge_project,
            ProjectStep(self.inp.org_id, project_id, self.inp.batch_size,
                        teardown_request_id=self.inp.request_id),
            start_to_close_timeout=LONG, retry_policy=RETRY,
            heartbeat_timeout=timedelta(seconds=self.inp.heartbeat_timeout_seconds))

    async def _purge_target(self, target: str, project_id: str) -> TargetPurgeResult:
        """One project in one deletion target besides the database: one heartbeating activity
        that resumes from its cursor (activities/targets.py)."""
        return await workflow.execute_activity_method(
            TargetActivities.purge_target,
            TargetStep(target, ProjectStep(self.inp.org_id, project_id, self.inp.batch_size,
                                           teardown_request_id=self.inp.request_id),
                       self.inp.target_page_size),
            start_to_close_timeout=LONG, retry_policy=RETRY,
            heartbeat_timeout=timedelta(seconds=self.inp.heartbeat_timeout_seconds))

    async def _revoke_api_keys(self, step: StepProgress) -> None:
        await self._counted(step, TeardownActivities.revoke_api_keys,
                            ["api_keys", "key_tombstones", "reminders"])

    async def _remove_members(self, step: StepProgress) -> None:
        # the step counts members; their quotas go with them and into the certificate's counts
        await self._counted(step, TeardownActivities.remove_members, ["members", "quotas"],
                            counted=["members"])

    async def _delete_payment_method(self, step: StepProgress) -> None:
        await self._counted(step, TeardownActivities.delete_payment_method, ["payment_methods"])

    async def _erase_usage_and_billing(self, step: StepProgress) -> None:
        await self._counted(step, TeardownActivities.erase_usage_and_billing,
                            ["usage_records", "invoices", "subscriptions"])

    async def _delete_org(self, step: StepProgress) -> None:
        await self._counted(step, TeardownActivities.delete_org, ["organizations"])

    async def _verify_nothing_left(self, step: StepProgress) -> None:
        step.total = len(self.state.snapshot)
        self.state.verification = await self._act(TeardownActivities.verify_nothing_left,
                                                  self._org_step())
        step.done = step.total

    async def _certificate(self, step: StepProgress) -> None:
        step.total = 1
        step.finished_at = workflow.now().isoformat()
        # The certificate records its own step as done: once it is written, it is.
        recorded = [replace(s, status="done", done=1) if s is step else s
                    for s in self.state.steps]
        self.state.certificate_id = await self._act(
            TeardownActivities.write_certificate,
            CertificateInput(
                org_id=self.inp.org_id, workflow_id=self._wid(),
                run_id=workflow.info().run_id, org_name_hash=self.state.org_name_hash,
                request_id=self.inp.request_id,
                steps=[asdict(s) for s in recorded],
                counts=dict(sorted(self.state.deleted.items())),
                verification=self.state.verification, claim_run_id=self._claim_run()))
        step.done = 1

    # -- cancel, failure, continue-as-new --------------------------------------------------

    async def _restore(self) -> Progress:
        assert self.cancel_request is not None
        await self._settle_notices()
        await self._act(TeardownActivities.unfreeze_org,
                        self._org_step(self.cancel_request.requested_by))
        self._set_status(CANCELLED)
        await self._notify("cancelled")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    async def _fail(self, step: str, reason: str) -> Progress:
        self._set_status(FAILED)
        self.state.last_error = f"{step}: {reason}"
        workflow.logger.error("teardown of %s failed at %s: %s", self.inp.org_id, step, reason)
        try:
            await self._act(TeardownActivities.fail_teardown_request,
                            TeardownFailure(self._org_step(), self.state.last_error))
        except ActivityError as err:
            workflow.logger.warning("failure not recorded: %s", _reason(err))
        await self._settle_notices()
        await self._notify("failed", self.state.last_error)
        await workflow.wait_condition(workflow.all_handlers_finished)
        raise ApplicationError(f"teardown failed at step {step}: {reason}",
                               type="TeardownFailed", non_retryable=True)

    async def _continue_as_new(self) -> None:
        await self._settle_notices()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.state.runs += 1
        workflow.continue_as_new(replace(self.inp, carried=self.state))

    # -- updates and query -----------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: CancelRequest) -> CancelResult:
        self.cancel_request = request
        await workflow.wait_condition(lambda: self.state.status not in (RUNNING, IN_GRACE)
                                      or self.state.destructive)
        if self.state.status == CANCELLED:
            return CancelResult(True, "teardown cancelled: the organization is active again")
        return CancelResult(False, f"teardown could not be cancelled: {self.state.status}")

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        check_cancellable("teardown", self.state.status, self.state.destructive,
                          DESTRUCTIVE_FROM)

    @workflow.update
    async def expedite(self, request: ExpediteRequest) -> ExpediteResult:
        self.expedited = True
        return ExpediteResult("grace window ended early: deletion proceeds now")

    @expedite.validator
    def _validate_expedite(self, request: ExpediteRequest) -> None:
        started = self.state.grace_started
        elapsed = ((workflow.now() - datetime.fromisoformat(started)).total_seconds()
                   if started else 0.0)
        check_expeditable(self.state.status, self.state.destructive,
                          self.cancel_request is not None, elapsed, self.state.min_grace_seconds)

    @workflow.query
    def progress(self) -> Progress:
        current = next((s.name for s in self.state.steps if s.status == "running"), None)
        return Progress(
            org_id=self.inp.org_id, status=self.state.status, current_step=current,
            steps=self.state.steps, percent=percent_done(self.state.steps),
            grace_deadline=self.state.grace_deadline,
            cancellable=not self.state.destructive and self.state.status in (RUNNING, IN_GRACE),
            records_purged=self.state.records_purged, last_error=self.state.last_error,
            certificate_id=self.state.certificate_id)

    # -- helpers ---------------------------------------------------------------------------

    def _set_status(self, status: str) -> None:
        """Change the status and show it in Temporal's visibility (`TeardownStatus`)."""
        self.state.status = status
        workflow.upsert_search_attributes([TEARDOWN_STATUS.value_set(status)])

    def _wid(self) -> str:
        return workflow.info().workflow_id

    def _claim_run(self) -> str:
        """The run that holds the request: the chain's first, set by the server (a run
        continued as new keeps holding it)."""
        return workflow.info().first_execution_run_id or self.state.first_run_id

    def _org_step(self, actor: str = "") -> OrgStep:
        return OrgStep(self.inp.org_id, self._wid(), actor or f"workflow:{self._wid()}",
                       self.inp.request_id, self._claim_run())

    def _add_deleted(self, table: str, count: int) -> None:
        self.state.deleted[table] = self.state.deleted.get(table, 0) + count

    async def _counted(self, step: StepProgress,
                       method: Callable[[TeardownActivities, OrgStep], StepCount],
                       tables: list[str], counted: list[str] | None = None) -> None:
        """Run a one-transaction step deleting `tables`; its done/total count the `counted`
        ones (all of them unless said), every table goes into the certificate's counts."""
        unit = counted or tables
        step.total = sum(self.state.snapshot.get(t, 0) for t in unit)
        if "api_keys" in unit:  # project keys already went with their projects
            step.total -= self.state.deleted.get("api_keys", 0)
        result = await self._act(method, self._org_step())
        for table, count in result.detail.items():
            self._add_deleted(table, count)
        step.done = (result.count if counted is None
                     else sum(result.detail.get(t, 0) for t in counted))

    async def _act(self, method: Callable[[TeardownActivities, A], R], arg: A) -> R:
        return await short_step(method, arg, timedelta(seconds=self.inp.step_timeout_seconds))

    async def _notify(self, kind: str, detail: str = "") -> None:
        """Best effort: a failed notice is logged, never the reason a teardown fails."""
        try:
            await self._act(TeardownActivities.notify_admin, Notice(
                self.inp.org_id, self._wid(), kind, detail, self.state.first_run_id,
                self.inp.request_id))
        except ActivityError as err:
            workflow.logger.warning("notice %s not queued: %s", kind, _reason(err))

    async def _settle_notices(self) -> None:
        """Wait for notices queued off the critical path: none is lost when the run ends."""
        while self.notices:
            await self.notices.pop()
