"""`ProjectPurgeWorkflow`: empties and deletes one project, as a child of the org teardown.

A child per project keeps the parent's history small (one start and one completion per project)
whatever the project holds, and lets projects be purged in parallel with bounded concurrency.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.purge import PurgeActivities
    from activities.teardown_io import ProjectStep
    from workflows.policies import LONG, RETRY
    from workflows.teardown_state import ProjectPurgeInput, ProjectPurgeResult


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
