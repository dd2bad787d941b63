"""Client-side calls into the member offboarding workflow, shared by the API and the console.

The workflow id is derived from the member and a start joins a running execution, so asking
again (after Temporal was away when the first start was tried) starts it once. The request
row must be committed before the start: the first activity claims it.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.member_offboarding import (
    MemberOffboardingInput,
    OffboardingProgress,
    member_offboarding_workflow_id,
)
from workflows.member_offboarding import MemberOffboardingWorkflow

OffboardingHandle = WorkflowHandle[MemberOffboardingWorkflow, OffboardingProgress]


async def start_offboarding(client: Client, task_queue: str, org_id: str, member_id: str,
                            request_id: str, *, step_timeout_seconds: int = 120
                            ) -> OffboardingHandle:
    return await client.start_workflow(
        MemberOffboardingWorkflow.run,
        MemberOffboardingInput(org_id=org_id, member_id=member_id, request_id=request_id,
                               step_timeout_seconds=step_timeout_seconds),
        id=member_offboarding_workflow_id(member_id), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)


def offboarding_handle(client: Client, member_id: str) -> OffboardingHandle:
    return client.get_workflow_handle_for(MemberOffboardingWorkflow.run,
                                          member_offboarding_workflow_id(member_id))
