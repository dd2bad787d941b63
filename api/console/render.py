"""Rendering the console's pages, and its problems as pages instead of JSON.

A problem raised while serving a console page (by the console or by an API operation it
called) is shown as a page with the problem's title and detail and its status code; a problem
that names a field (`field=...`, or pydantic's `loc`) is shown next to that field instead, on
the page the form came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.console.auth import ConsoleUser, SignInRequired
from api.problems import InvalidInput, Problem
from core.text import duration

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(value: datetime | None) -> str:
    """A timestamp as the console shows it: UTC to the minute."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["duration"] = duration


@dataclass(frozen=True)
class FieldError:
    title: str
    detail: str


Errors = dict[str, FieldError]


def errors_of(exc: Problem | ValidationError, default_field: str = "") -> Errors:
    """The problem (or the failed validation of a form) as messages by field name."""
    if isinstance(exc, ValidationError):
        out: Errors = {}
        for err in exc.errors():
            loc = err.get("loc", ())
            field = str(loc[0]) if loc else default_field
            out.setdefault(field, FieldError(InvalidInput.title, str(err.get("msg", ""))))
        return out
    field = str(exc.extensions.get("field") or default_field)
    return {field: FieldError(exc.title, exc.detail)}


def page(request: Request, template: str, user: ConsoleUser | None, *, status: int = 200,
         **context: Any) -> HTMLResponse:
    context.setdefault("errors", {})
    context.setdefault("notice", "")
    response = TEMPLATES.TemplateResponse(request, template, {"user": user, **context},
                                          status_code=status)
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def problem_page(request: Request, exc: Problem) -> Response:
    return TEMPLATES.TemplateResponse(request, "problem.html", {
        "user": getattr(request.state, "console_user", None), "status": exc.status,
        "title": exc.title, "detail": exc.detail, "errors": {}, "notice": "",
        "frozen_admin": exc.slug == "org-frozen"}, status_code=exc.status)


def sign_in_redirect(_request: Request, exc: SignInRequired) -> Response:
    return see_other("/console/signin" + ("?expired=1" if exc.reason == "expired" else ""))


def status_of(exc: Problem | ValidationError) -> int:
    """The HTTP status a page re-rendered with this error answers with."""
    return exc.status if isinstance(exc, Problem) else 422
