"""Marks on dependencies that tell `api.one_hop` how a plain route may run them.

Apart from `api.one_hop` so that `api.deps` and `api.auth`, whose dependencies carry them, and
the route class, which reads them and uses `api.deps`, import one way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

F = TypeVar("F", bound=Callable[..., Any])
IN_THREAD = "__in_route_thread__"
REQUEST_SESSION = "__request_session__"
STATE_ONLY = "__reads_state_only__"


def in_route_thread(alone: Callable[[Request], None]) -> Callable[[F], F]:
    """Mark a plain `def` dependency that a `OneHopRoute` runs in its endpoint's thread call.

    `alone(request)` makes the same check in a transaction of its own, rolled back, raising
    the same problems: the 422 handler runs it when FastAPI refused the input before the
    endpoint (and so the dependency) could run.
    """
    def mark(dependency: F) -> F:
        setattr(dependency, IN_THREAD, alone)
        return dependency
    return mark


def request_session(dependency: F) -> F:
    """Mark the dependency yielding the request's session: a `OneHopRoute` commits it (and,
    when no other dependency needs it, opens and closes it in its own call)."""
    setattr(dependency, REQUEST_SESSION, True)
    return dependency


def reads_state_only(dependency: F) -> F:
    """Mark an `async def` dependency that only reads `app.state`: it may run before a
    deferred key check, since it neither answers nor refuses anything."""
    setattr(dependency, STATE_ONLY, True)
    return dependency
