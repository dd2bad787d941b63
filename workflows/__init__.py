"""Temporal workflow definitions: deterministic code only (no I/O, clock or randomness)."""

from __future__ import annotations

from typing import Any


def all_workflows() -> list[type[Any]]:
    """Every workflow class the worker must register."""
    from workflows.member_offboarding import MemberOffboardingWorkflow
    from workflows.outbox import OutboxDeliveryWorkflow
    from workflows.project_deletion import ProjectDeletionWorkflow
    from workflows.subscriptions import SubscriptionCancelWorkflow, SubscriptionCreateWorkflow
    from workflows.sweep import KeyExpirySweepWorkflow
    from workflows.teardown import OrgTeardownWorkflow

    return [OrgTeardownWorkflow, KeyExpirySweepWorkflow, SubscriptionCancelWorkflow,
            OutboxDeliveryWorkflow, SubscriptionCreateWorkflow, ProjectDeletionWorkflow,
            MemberOffboardingWorkflow]
