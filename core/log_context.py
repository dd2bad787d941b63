"""Where a log line came from: the Temporal workflow or activity, and the active trace.

Why a filter on the handler rather than asking every module to use Temporal's logger adapters:
the activities log through plain `logging.getLogger(__name__)` loggers (and so do SQLAlchemy,
httpx and everything they call), and those lines need the workflow id as much as ours. A
handler filter runs in the thread that logged, where `activity.info()` and the OpenTelemetry
context are still those of the activity, so it can stamp every line, whoever wrote it.

Workflow lines come through `workflow.logger`, which puts the workflow's details in the
record's `temporal_workflow` extra; the filter flattens them into the same field names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from temporalio import activity

# The fields this filter may add, in the order the formatters show them.
CONTEXT_FIELDS = ("workflow_id", "run_id", "workflow_type", "activity", "activity_id",
                  "attempt", "trace_id", "span_id")
# Record attributes the filter reads and flattens; formatters leave them out.
TEMPORAL_EXTRAS = ("temporal_workflow", "temporal_activity", "workflow_info", "activity_info")


class TemporalContextFilter(logging.Filter):
    """Adds `CONTEXT_FIELDS` to each record; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in context_fields(record).items():
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The Temporal and trace context of the code that emitted `record`."""
    fields: dict[str, Any] = {}
    if activity.in_activity():
        info = activity.info()
        fields.update(workflow_id=info.workflow_id, run_id=info.workflow_run_id,
                      workflow_type=info.workflow_type, activity=info.activity_type,
                      activity_id=info.activity_id, attempt=info.attempt)
    else:
        fields.update(_from_extras(record))
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        fields["trace_id"] = trace.format_trace_id(span.trace_id)
        fields["span_id"] = trace.format_span_id(span.span_id)
    return fields


def _from_extras(record: logging.LogRecord) -> dict[str, Any]:
    """Details Temporal's logger adapters left on the record (a workflow line, or an activity
    line handed to this filter outside the activity's thread)."""
    acts = getattr(record, "temporal_activity", None)
    if isinstance(acts, Mapping):
        return {"workflow_id": acts.get("workflow_id"), "run_id": acts.get("workflow_run_id"),
                "workflow_type": acts.get("workflow_type"),
                "activity": acts.get("activity_type"), "activity_id": acts.get("activity_id"),
                "attempt": acts.get("attempt")}
    flow = getattr(record, "temporal_workflow", None)
    if isinstance(flow, Mapping):
        return {"workflow_id": flow.get("workflow_id"), "run_id": flow.get("run_id"),
                "workflow_type": flow.get("workflow_type"), "attempt": flow.get("attempt")}
    return {}
