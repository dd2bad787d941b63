"""Projects: the list (a page at a time), create, and delete with live progress.

A project's deletion is the API's own `ProjectDeletionWorkflow` request: type the project's
name, then watch its steps; cancel during the grace window, or Delete now.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from api.console.auth import AdminDep, ConsoleUser, FormDep
from api.console.render import Errors, errors_of, page, see_other, status_of
from api.deps import SessionDep, SettingsDep, get_temporal_client
from api.problems import Problem
from api.project_deletion_models import DeletionIn, DeletionStatus
from api.routes import project_deletion as deletion_routes
from api.routes import projects as project_routes
from api.routes.projects import ProjectIn

router = APIRouter()

PAGE_SIZE = 20


def _projects_page(request: Request, user: ConsoleUser, session: SessionDep, *,
                   status: int = 200, errors: Errors | None = None, dialog: str = "",
                   form: dict[str, Any] | None = None) -> HTMLResponse:
    cursor = request.query_params.get("cursor", "")[:64]
    listing = project_routes.list_projects(user.org_id, user.principal, session,
                                           limit=PAGE_SIZE, cursor=cursor)
    notice = "Project created." if request.query_params.get("created") else ""
    return page(request, "projects.html", user, status=status, projects=listing.items,
                next_cursor=listing.next_cursor, first_page=not cursor, errors=errors or {},
                dialog=dialog, form=form or {}, notice=notice)


@router.get("/projects", response_class=HTMLResponse)
def projects_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    return _projects_page(request, user, session)


@router.post("/projects", response_class=HTMLResponse)
def create_project(request: Request, user: AdminDep, form: FormDep,
                   session: SessionDep) -> Response:
    name = str(form.get("name", ""))
    try:
        project_routes.create_project(user.org_id, ProjectIn(name=name), user.principal,
                                      session)
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _projects_page(request, user, session, status=status_of(exc),
                              errors=errors_of(exc, "name"), dialog="create",
                              form={"name": name})
    return see_other("/console/projects?created=1")


@router.post("/projects/{project_id}/delete", response_class=HTMLResponse)
async def delete_project(request: Request, project_id: str, user: AdminDep, form: FormDep,
                         session: SessionDep, settings: SettingsDep) -> Response:
    typed = str(form.get("confirm_name", ""))
    try:
        body = DeletionIn(confirm_name=typed)
        client = await get_temporal_client(request)
        await deletion_routes.request_deletion(user.org_id, project_id[:64], body,
                                               user.principal, session, settings, client)
    except (Problem, ValidationError) as exc:
        session.rollback()
        errors, code = errors_of(exc, "confirm_name"), status_of(exc)
        return _projects_page(request, user, session, status=code, errors=errors,
                              dialog=f"delete-{project_id}", form={"confirm_name": typed})
    return see_other(f"/console/projects/{project_id}/deletion")


async def _deletion(request: Request, user: ConsoleUser, session: SessionDep,
                    project_id: str) -> DeletionStatus:
    client = await get_temporal_client(request)
    return await deletion_routes.deletion_status(user.org_id, project_id[:64], user.principal,
                                                 session, client)


@router.get("/projects/{project_id}/deletion", response_class=HTMLResponse)
async def deletion_page(request: Request, project_id: str, user: AdminDep,
                        session: SessionDep) -> Response:
    status = await _deletion(request, user, session, project_id)
    certificate = (json.dumps(status.certificate.model_dump(mode="json"), indent=2)
                   if status.certificate else "")
    base = f"/console/projects/{project_id}/deletion"
    return page(request, "teardown.html", user, status_view=status, certificate=certificate,
                heading="Deleting the project", watch=base, absolute_watch="",
                cancel_url=f"{base}/cancel", expedite_url=f"{base}/expedite",
                back="/console/projects")


@router.get("/projects/{project_id}/deletion/status.json")
async def deletion_json(request: Request, project_id: str, user: AdminDep,
                        session: SessionDep) -> JSONResponse:
    status = await _deletion(request, user, session, project_id)
    return JSONResponse(status.model_dump(mode="json", exclude={"certificate"}))


@router.post("/projects/{project_id}/deletion/cancel")
async def cancel_deletion(request: Request, project_id: str, user: AdminDep, form: FormDep,
                          session: SessionDep) -> Response:
    client = await get_temporal_client(request)
    await deletion_routes.cancel(user.org_id, project_id[:64], user.principal, session, client)
    return see_other(f"/console/projects/{project_id}/deletion")


@router.post("/projects/{project_id}/deletion/expedite")
async def expedite_deletion(request: Request, project_id: str, user: AdminDep, form: FormDep,
                            session: SessionDep) -> Response:
    client = await get_temporal_client(request)
    await deletion_routes.expedite(user.org_id, project_id[:64], user.principal, session,
                                   client)
    return see_other(f"/console/projects/{project_id}/deletion")
