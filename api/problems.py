"""RFC 9457 problem details: one error hierarchy, rendered by one set of handlers.

Services and routes raise a `Problem` subclass (defined in `core.problems`, so the domain
operations below the API can raise them too) and never build responses, so every 4xx/5xx the
API sends has the same `application/problem+json` shape, `{type, title, status, detail,
instance}`, and a client can branch on `type` instead of parsing English. Errors we did not
anticipate still get a problem body (503 when the database is unreachable, 500 otherwise) and
never a traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from core.problems import (  # re-exported: routes import them from here
    TYPE_PREFIX,
    BadRequest,
    Conflict,
    ContentTooLarge,
    InvalidInput,
    NotFound,
    NotPermitted,
    OrgFrozen,
    Problem,
    ProjectFrozen,
    Unauthorized,
    Unavailable,
)
from core.temporal import is_transient

log = logging.getLogger("lifecycle.api")

MEDIA_TYPE = "application/problem+json"
__all__ = ["TYPE_PREFIX", "BadRequest", "Conflict", "ContentTooLarge", "InvalidInput",
           "NotFound", "NotPermitted", "OrgFrozen", "Problem", "ProjectFrozen", "Unauthorized",
           "Unavailable", "problem_responses"]


def problem_response(request: Request, *, status: int, type_uri: str, title: str,
                     detail: str, **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_uri, "title": title, "status": status,
                            "detail": detail, "instance": request.url.path}
    body.update(extensions)
    headers = {"Retry-After": "5"} if status == 503 else None
    if status == 429:  # RFC 6585: when the client may try again
        headers = {"Retry-After": str(extensions.get("retry_after", 60))}
    if status == 401:  # RFC 9110: a 401 names the scheme the client should use
        headers = {"WWW-Authenticate": 'Bearer realm="org-lifecycle"'}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


class ProblemDetails(BaseModel):
    """The body of every error response, for the OpenAPI page."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str


def problem_responses(*problems: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route, so the OpenAPI page lists the problems it can return."""
    return {cls.status: {"model": ProblemDetails, "description": cls.title} for cls in problems}


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(request, status=exc.status, type_uri=exc.type_uri(),
                            title=exc.title, detail=exc.detail, **exc.extensions)


# An endpoint attribute: `async (request) -> Problem | None`, the checks a `api.one_hop` route
# defers into its endpoint's call, which the 422 answer must not overtake.
CHECK_FIRST = "__check_before_validation__"


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    check = getattr(getattr(request.scope.get("route"), "endpoint", None), CHECK_FIRST, None)
    if check is not None and (refused := await check(request)) is not None:
        return await _on_problem(request, refused)
    # The offending input is left out on purpose: it may be a secret or a card number, and
    # a response body ends up in logs and browser histories.
    errors = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", ""),
               "type": err.get("type", "")} for err in exc.errors()]
    count = len(errors)
    detail = f"{count} field{'s' if count != 1 else ''} failed validation"
    return problem_response(request, status=422, type_uri=InvalidInput.type_uri(),
                            title=InvalidInput.title, detail=detail, errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    response = problem_response(request, status=exc.status_code, type_uri="about:blank",
                                title=phrase, detail=detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return problem_response(request, status=503, type_uri=Unavailable.type_uri(),
                            title=Unavailable.title, detail="the database is unavailable")


async def _on_driver_error(request: Request, exc: Exception) -> JSONResponse:
    """A driver error is the database being away when the connection was lost (closed under
    us, or unusable); any other one (a bug in a query) stays a 500."""
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
        return await _on_database_down(request, exc)
    return await _on_unexpected(request, exc)


async def _on_temporal_error(request: Request, exc: Exception) -> JSONResponse:
    """A Temporal call a route did not handle: unreachable or overloaded is a 503 the client
    retries after `Retry-After`; any other status is a bug, a 500."""
    assert isinstance(exc, RPCError)
    if not is_transient(exc):
        return await _on_unexpected(request, exc)
    log.warning("Temporal unavailable on %s %s: %s", request.method, request.url.path,
                exc.status.name if exc.status else "unknown status")
    return problem_response(request, status=503, type_uri=Unavailable.type_uri(),
                            title=Unavailable.title, detail="Temporal is unavailable")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, status=500, type_uri=Problem.type_uri(),
                            title=Problem.title, detail="an unexpected error occurred")


def install(app: FastAPI) -> None:
    """Register the handlers and the `ProblemDetails` schema on `app`."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DBAPIError, _on_driver_error)
    # no pooled connection came free in time: the database is too slow or away, not a bug
    app.add_exception_handler(PoolTimeout, _on_database_down)
    app.add_exception_handler(RPCError, _on_temporal_error)
    app.add_exception_handler(Exception, _on_unexpected)
