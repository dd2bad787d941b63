"""Helpers for project deletion tests: a request written as the API writes it, the workflow
started as the API starts it, and the counts a seeded project holds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from clients.project_deletion import DeletionHandle, deletion_input, start_deletion
from core.settings import Settings
from services.project_deletion import request_deletion
from services.seeding import OrgShape, SeededOrg
from store import projects
from store.models import AuditEvent, Project, ProjectStatus

ACTOR = "key:olt_requester"


def request(sessions: sessionmaker[Session], org: SeededOrg, project_id: str, *,
            grace: int = 0, actor: str = ACTOR) -> str:
    """A deletion request row, written by the service the API calls; its id."""
    with sessions.begin() as session:
        project = projects.get_project(session, org.org_id, project_id)
        assert project is not None
        made = request_deletion(session, org.org_id, project_id, confirm_name=project.name,
                                grace_seconds=grace, actor=actor)
    return made.request.id


async def start(client: Client, settings: Settings, queue: str, org_id: str, project_id: str,
                request_id: str, **changes: Any) -> DeletionHandle:
    inp = replace(deletion_input(settings, org_id, project_id, request_id),
                  **{"batch_size": 10, **changes})
    return await start_deletion(client, queue, inp)


def project_counts(shape: OrgShape) -> dict[str, int]:
    """What one project of a seeded org holds, per table (what a certificate must count)."""
    return {"api_keys": shape.project_keys_per_project,
            "dataset_records": shape.datasets_per_project * shape.records_per_dataset,
            "datasets": shape.datasets_per_project, "projects": 1}


def status_of(sessions: sessionmaker[Session], project_id: str) -> ProjectStatus | None:
    with sessions() as session:
        return session.scalar(select(Project.status).where(Project.id == project_id))


def project_audit(sessions: sessionmaker[Session], org_id: str, project_id: str
                  ) -> list[tuple[str, str]]:
    """(actor, action) of every event about the project, oldest first."""
    with sessions() as session:
        return [(a, b) for a, b in session.execute(
            select(AuditEvent.actor, AuditEvent.action).where(
                AuditEvent.org_id == org_id, AuditEvent.target == f"project:{project_id}")
            .order_by(AuditEvent.id))]


def count_audit(sessions: sessionmaker[Session], org_id: str) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.org_id == org_id)) or 0)
