"""Reading a workflow's whole history across continue-as-new, for tests, benchmarks and ops.

A long teardown is several runs chained by continue-as-new; its history bound (no run may grow
with the org) is about each run, and its total is the sum, so both need every run in order from
the first.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

# The marker under which the SDK records a completed local activity (one per activity; its
# "data" detail is JSON with the activity type and attempt). Tools that count or show activities
# must read these too: the teardown runs its short steps as local activities.
LOCAL_ACTIVITY_MARKER = "core_local_activity"


async def run_histories(client: Client, workflow_id: str, first_run_id: str
                        ) -> list[WorkflowHistory]:
    """Every run of a workflow, following the continue-as-new chain from the first run."""
    histories = []
    run_id: str | None = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes \
                .new_execution_run_id
    return histories
