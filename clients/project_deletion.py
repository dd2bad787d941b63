"""Client-side calls into the project deletion workflow, shared by the API, the CLI and tests.

The workflow id is derived from the project and a start joins a running execution, so a
repeated request (a retry after the API lost Temporal between writing the request row and
starting the workflow) starts it once. A closed deletion does not block a new one: a
cancelled or failed deletion may be requested again.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.project_deletion import (
    DeletionCancel,
    DeletionDecision,
    DeletionExpedite,
    DeletionProgress,
    ProjectDeletionInput,
    project_deletion_workflow_id,
)
from core.settings import Settings
from workflows.project_deletion import ProjectDeletionWorkflow

DeletionHandle = WorkflowHandle[ProjectDeletionWorkflow, DeletionProgress]


def deletion_input(settings: Settings, org_id: str, project_id: str,
                   request_id: str) -> ProjectDeletionInput:
    return ProjectDeletionInput(org_id=org_id, project_id=project_id, request_id=request_id,
                                batch_size=settings.purge_batch_size)


async def start_deletion(client: Client, task_queue: str,
                         inp: ProjectDeletionInput) -> DeletionHandle:
    return await client.start_workflow(
        ProjectDeletionWorkflow.run, inp, id=project_deletion_workflow_id(inp.project_id),
        task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)


def deletion_handle(client: Client, project_id: str, run_id: str | None = None
                    ) -> DeletionHandle:
    return client.get_workflow_handle_for(ProjectDeletionWorkflow.run,
                                          project_deletion_workflow_id(project_id),
                                          run_id=run_id)


async def query_progress(handle: DeletionHandle,
                         rpc_timeout: timedelta | None = None) -> DeletionProgress:
    return await handle.query(ProjectDeletionWorkflow.progress, rpc_timeout=rpc_timeout)


async def cancel(handle: DeletionHandle, request: DeletionCancel) -> DeletionDecision:
    """The `cancel` update: accepted until the purge starts, refused after."""
    return await handle.execute_update(ProjectDeletionWorkflow.cancel, request)


async def expedite(handle: DeletionHandle, request: DeletionExpedite) -> DeletionDecision:
    return await handle.execute_update(ProjectDeletionWorkflow.expedite, request)
