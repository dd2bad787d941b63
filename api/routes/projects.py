"""Projects: create, rename, list (cursor paging) and show, with dataset and record counts.

Creating and renaming are the org admin's (a team key the admin created: "team API keys are
used for operations such as creating or modifying projects"). Any team key of the org reads
every project; a project key reads only its own. Deleting a project is a durable workflow
(`api.routes.project_deletion`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyDep
from api.deps import SessionDep
from api.guards import org_or_404, project_or_404
from api.one_hop import OneHopRoute
from api.params import OrgId, PageCursor, PageLimit, ProjectId
from api.problems import (
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
    Unauthorized,
    problem_responses,
)
from core.text import OneLine
from services import projects as service
from services.names import MAX_NAME, NAME_PATTERN
from store import projects
from store.models import Project

router = APIRouter(route_class=OneHopRoute, tags=["projects"])

READ_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput)
WRITE_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, Conflict, InvalidInput)
EXAMPLE: dict[str, Any] = {
    "id": "7c1e0b5d9f2a4e6b8c0d1e2f3a4b5c6d", "name": "genomics", "status": "active",
    "created_at": "2026-01-01T00:00:00Z", "datasets": 2, "records": 120000}


class ProjectOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: str
    name: str
    status: str = Field(description="active | frozen (deletion requested) | deleting")
    created_at: datetime
    datasets: int = Field(description="datasets in the project")
    records: int = Field(description="records in all its datasets")


class ProjectPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [EXAMPLE], "next_cursor": None}]})

    items: list[ProjectOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"name": "genomics"}]})

    name: OneLine = Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN,
                      description="unique in the organization")


def _out(project: Project, counts: projects.ProjectCounts) -> ProjectOut:
    return ProjectOut(id=project.id, name=project.name, status=project.status.value,
                      created_at=project.created_at, datasets=counts.datasets,
                      records=counts.records)


def _one(session: SessionDep, project: Project) -> ProjectOut:
    return _out(project, projects.counts(session, [project.id])[project.id])


@router.post("/orgs/{org_id}/projects", status_code=201, response_model=ProjectOut,
             summary="Create a project (admin)", responses=WRITE_ERRORS)
def create_project(org_id: OrgId, body: ProjectIn, principal: KeyDep,
                   session: SessionDep) -> ProjectOut:
    principal.require_admin(org_id)
    project = service.create_project(session, org_id, body.name, actor=principal.actor)
    return _out(project, projects.ProjectCounts())


@router.get("/orgs/{org_id}/projects", response_model=ProjectPage, responses=READ_ERRORS,
            summary="List the org's projects with their counts, a page at a time (team key)")
def list_projects(org_id: OrgId, principal: KeyDep, session: SessionDep, limit: PageLimit = 50,
                  cursor: PageCursor = "") -> ProjectPage:
    principal.require_team(org_id)
    org_or_404(session, org_id)
    rows, next_cursor = projects.list_projects(session, org_id, limit=limit, after=cursor)
    counts = projects.counts(session, [p.id for p in rows])
    return ProjectPage(items=[_out(p, counts[p.id]) for p in rows], next_cursor=next_cursor)


@router.get("/orgs/{org_id}/projects/{project_id}", response_model=ProjectOut,
            responses=READ_ERRORS,
            summary="One project with its dataset and record counts (team key or its key)")
def get_project(org_id: OrgId, project_id: ProjectId, principal: KeyDep,
                session: SessionDep) -> ProjectOut:
    principal.require_project_read(org_id, project_id)
    return _one(session, project_or_404(session, org_id, project_id))


@router.patch("/orgs/{org_id}/projects/{project_id}", response_model=ProjectOut,
              summary="Rename a project (admin)", responses=WRITE_ERRORS)
def rename_project(org_id: OrgId, project_id: ProjectId, body: ProjectIn, principal: KeyDep,
                   session: SessionDep) -> ProjectOut:
    principal.require_admin(org_id)
    project = service.rename_project(session, org_id, project_id, body.name,
                                     actor=principal.actor)
    return _one(session, project)
