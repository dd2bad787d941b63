"""API key management: the list (a page at a time), create, extend, delete, bulk delete.

The secret of a new key is in the response to the create form only: the page is rendered from
that POST (never a redirect with the secret in a URL) and, like every console page, marked
`no-store`, so the secret is not kept by the browser's cache either.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.console.auth import AdminDep, ConsoleUser, FormDep
from api.console.render import Errors, errors_of, page, see_other, status_of
from api.deps import SessionDep, SettingsDep
from api.problems import Problem
from api.routes import keys as key_routes
from api.routes.keys import BulkDelete, CreatedKeyOut, KeyCreate, KeyExtend
from store import console_auth

router = APIRouter()

PAGE_SIZE = 20


def _keys_page(request: Request, user: ConsoleUser, session: SessionDep, *,
               status: int = 200, errors: Errors | None = None,
               created: CreatedKeyOut | None = None, dialog: str = "",
               form: dict[str, Any] | None = None) -> HTMLResponse:
    cursor = request.query_params.get("cursor", "")[:64]
    # A reminder mail links here with `?extend=<key id>`: that key's extend dialog opens.
    linked = request.query_params.get("extend", "")[:64]
    if linked and not dialog:
        dialog, form = f"extend-{linked}", {"days": "30"}
    listing = key_routes.list_keys(user.org_id, user.principal, session, limit=PAGE_SIZE,
                                   cursor=cursor)
    projects = console_auth.project_choices(session, user.org_id)
    notice = ""
    if request.query_params.get("extended"):
        notice = "The key's expiry was extended."
    elif request.query_params.get("deleted"):
        count = request.query_params.get("deleted", "1")
        notice = f"{int(count) if count.isdigit() else 1} key(s) deleted."
    return page(request, "keys.html", user, status=status, keys=listing.items,
                next_cursor=listing.next_cursor, first_page=not cursor,
                projects=dict(projects), created=created, errors=errors or {},
                dialog=dialog, form=form or {}, notice=notice)


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, user: AdminDep, session: SessionDep) -> Response:
    return _keys_page(request, user, session)


@router.post("/keys", response_class=HTMLResponse)
def create_key(request: Request, user: AdminDep, form: FormDep, session: SessionDep,
               settings: SettingsDep) -> Response:
    values = {"name": str(form.get("name", "")),
              "expires_in_days": str(form.get("expires_in_days", "")) or "90"}
    target = str(form.get("project", ""))
    try:
        body = KeyCreate.model_validate(values)
        if target:
            created = key_routes.create_project_key(user.org_id, target, body, user.principal,
                                                    session, settings, Response())
        else:
            created = key_routes.create_team_key(user.org_id, body, user.principal, session,
                                                 settings, Response())
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _keys_page(request, user, session, status=status_of(exc),
                          errors=errors_of(exc, "project" if target else "name"),
                          dialog="create", form={**values, "project": target})
    return _keys_page(request, user, session, status=201, created=created)


@router.post("/keys/bulk-delete", response_class=HTMLResponse)
def bulk_delete(request: Request, user: AdminDep, form: FormDep,
                session: SessionDep) -> Response:
    ids = [str(v) for v in form.getlist("ids")]
    confirm = str(form.get("confirm", ""))
    try:
        body = BulkDelete(ids=ids, confirm=confirm)
        # a signed-in admin can always mint a new key: no lockout from here
        body.allow_lockout = True
        done = key_routes.bulk_delete(user.org_id, body, user.principal, session,
                                      request.app.state.settings)
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _keys_page(request, user, session, status=status_of(exc),
                          errors=errors_of(exc, "confirm"), dialog="bulk",
                          form={"ids": ids, "confirm": confirm})
    return see_other(f"/console/keys?deleted={done.deleted}")


@router.post("/keys/{key_id}/extend", response_class=HTMLResponse)
def extend_key(request: Request, key_id: str, user: AdminDep, form: FormDep,
               session: SessionDep) -> Response:
    days = str(form.get("days", ""))
    try:
        body = KeyExtend.model_validate({"days": days})
        key_routes.extend_key(user.org_id, key_id[:64], body, user.principal, session)
    except (Problem, ValidationError) as exc:
        session.rollback()
        return _keys_page(request, user, session, status=status_of(exc),
                          errors=errors_of(exc, "days"), dialog=f"extend-{key_id}",
                          form={"days": days})
    return see_other(f"/console/keys?extended={key_id}")


@router.post("/keys/{key_id}/delete", response_class=HTMLResponse)
def delete_key(request: Request, key_id: str, user: AdminDep, form: FormDep,
               session: SessionDep) -> Response:
    try:
        key_routes.delete_key(user.org_id, key_id[:64], user.principal, session,
                              request.app.state.settings, allow_lockout=True)
    except Problem as exc:
        session.rollback()
        return _keys_page(request, user, session, status=exc.status,
                          errors=errors_of(exc, "keys"))
    return see_other("/console/keys?deleted=1")
