"""`ProjectPurgeWorkflow`: empties and deletes one project, as a child of the org teardown.

Only teardowns started before the `teardown-fewer-round-trips` patch start it: newer ones run
one `purge_project` activity per project, which keeps the parent's history as small (three
events per project) without the child's start and workflow tasks. It stays registered, and its
history recorded, until no teardown started before the patch can still be running or replayed.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.purge import PurgeActivities
    from contracts.teardown import ProjectPurgeInput, ProjectPurgeResult, ProjectStep
    from workflows.policies import LONG, RETRY


@workflow.defn
class ProjectPurgeWorkflow:
    @workflow.run
    async def run(self, inp: ProjectPurgeInput) -> ProjectPurgeResult:
        step = ProjectStep(inp.org_id, inp.project_id, inp.batch_size)
        await workflow.execute_activity_method(
            PurgeActivities.purge_project_records, step, start_to_close_timeout=LONG,
            heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_seconds),
            retry_policy=RETRY)
        return await workflow.execute_activity_method(
            PurgeActivities.delete_project, step,
            start_to_close_timeout=timedelta(seconds=inp.step_timeout_seconds),
            retry_policy=RETRY)
