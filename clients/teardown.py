"""Client-side calls into the teardown workflow, shared by the API, the CLI and tests.

Starting is where "one teardown per org" lives: the id is derived from the org and a second
start while one runs is refused by Temporal itself, so two API replicas racing on the same click
cannot start two teardowns. A closed one does not block a new start: after a cancel the admin
may decide again, and after a failure a new run resumes the work (every step is idempotent). A
completed teardown cannot be repeated in effect: its org is gone and the freeze refuses.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.teardown import (
    SEARCH_ATTRIBUTES,
    CancelRequest,
    CancelResult,
    ExpediteRequest,
    ExpediteResult,
    Progress,
    TeardownInput,
    teardown_workflow_id,
)
from core.settings import Settings
from core.temporal import ensure_search_attributes
from workflows.teardown import OrgTeardownWorkflow

TeardownHandle = WorkflowHandle[OrgTeardownWorkflow, Progress]


def teardown_input(settings: Settings, org_id: str, request_id: str) -> TeardownInput:
    """The input of a teardown acting on the request row `request_id` (see
    `services.teardown`), with the purge tuning from settings."""
    return TeardownInput(
        org_id=org_id, request_id=request_id,
        batch_size=settings.purge_batch_size, purge_concurrency=settings.purge_concurrency)


async def start_teardown(client: Client, settings: Settings, inp: TeardownInput,
                         task_queue: str | None = None) -> TeardownHandle:
    """Start the org's teardown; raises `WorkflowAlreadyStartedError` if it exists already."""
    return await client.start_workflow(
        OrgTeardownWorkflow.run, inp, id=teardown_workflow_id(inp.org_id),
        task_queue=task_queue or settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)


def teardown_handle(client: Client, org_id: str) -> TeardownHandle:
    return client.get_workflow_handle_for(OrgTeardownWorkflow.run, teardown_workflow_id(org_id))


def handle_for_id(client: Client, workflow_id: str, run_id: str | None = None
                  ) -> TeardownHandle:
    """A handle by workflow id (and run), for the operator views that list workflows by id."""
    return client.get_workflow_handle_for(OrgTeardownWorkflow.run, workflow_id, run_id=run_id)


async def query_progress(handle: TeardownHandle, rpc_timeout: timedelta | None = None
                         ) -> Progress:
    """The `progress` query: answered by a worker from the replayed state, even after a failure."""
    return await handle.query(OrgTeardownWorkflow.progress, rpc_timeout=rpc_timeout)


async def cancel(handle: TeardownHandle, request: CancelRequest) -> CancelResult:
    """The `cancel` update: accepted during grace, refused once a destructive step has begun."""
    return await handle.execute_update(OrgTeardownWorkflow.cancel, request)


async def expedite(handle: TeardownHandle, request: ExpediteRequest) -> ExpediteResult:
    """The `expedite` update: ends the grace window now."""
    return await handle.execute_update(OrgTeardownWorkflow.expedite, request)


async def register_search_attributes(client: Client) -> list[str]:
    """Make sure the namespace knows the teardown's search attributes; the names added."""
    return await ensure_search_attributes(client, [key.name for key in SEARCH_ATTRIBUTES])
