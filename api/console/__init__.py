"""The web console: server-rendered pages under `/console`, served by the API's own app.

Pages call the API's operations in-process (never HTTP to itself), so the console checks,
refuses and audits exactly as the API does. Every asset is a file of this package (no CDN, no
build step); no page has inline script or style, so the Content-Security-Policy allows only
the app's own files.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console import (
    mailbox,
    routes_audit,
    routes_auth,
    routes_billing,
    routes_danger,
    routes_keys,
    routes_members,
    routes_projects,
    routes_quotas,
    routes_settings,
    routes_webhooks,
)
from api.console.auth import SignInRequired
from api.console.render import problem_page, see_other, sign_in_redirect
from api.console.security import HEADERS, PREFIX

__all__ = ["HEADERS", "PREFIX", "install"]
from api.problems import InvalidInput, NotFound, Problem
from core.settings import Settings

STATIC = Path(__file__).parent / "static"


def _root() -> Response:
    return see_other(f"{PREFIX}/settings")


def _console_first(app: FastAPI, kind: Any) -> None:
    """Wrap the API's handler for `kind`: under `/console` a problem is a page, not JSON."""
    api_handler = app.exception_handlers[kind]

    async def to_api(request: Request, exc: Exception) -> Response:
        answer = api_handler(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    async def handler(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PREFIX):
            return await to_api(request, exc)
        if isinstance(exc, Problem):
            return problem_page(request, exc)
        if isinstance(exc, RequestValidationError):
            return problem_page(request, InvalidInput("the request's parameters are not "
                                                      "valid"))
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return problem_page(request, NotFound("there is no such page in the console"))
        return await to_api(request, exc)

    app.add_exception_handler(kind, handler)


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the console on `app` (after `problems.install`, whose handlers it wraps)."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    router.add_api_route("", _root, methods=["GET"])
    router.add_api_route("/", _root, methods=["GET"])
    for module in (routes_auth, routes_settings, routes_keys, routes_members, routes_projects,
                   routes_quotas, routes_billing, routes_audit, routes_webhooks,
                   routes_danger):
        router.include_router(module.router)
    if settings.dev_mailbox_dir:  # only `lifecycle dev` sets it
        router.include_router(mailbox.router(Path(settings.dev_mailbox_dir)))
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    for kind in (Problem, RequestValidationError, StarletteHTTPException):
        _console_first(app, kind)
    app.add_exception_handler(SignInRequired, sign_in_redirect)  # type: ignore[arg-type]
