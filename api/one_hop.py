"""Plain `def` routes in one thread-pool call: the key check, the body, the response's
validation and the commit together.

Why: FastAPI runs every plain `def` dependency and endpoint in the thread pool, one call
each, and validates a plain endpoint's answer in one more. An authenticated read paid five
hand-overs to a worker thread and back (the session's enter and exit, the key check, the
body, the validation), and on one core behind the GIL those cost more than its queries.
`OneHopRoute` turns each plain endpoint into an `async def` with the same parameters (so the
OpenAPI page and the dependency order of everything else stay as they are) that makes one
call, running in it:

- the dependencies marked `in_route_thread` (the key checks of `api.auth`), with the
  arguments FastAPI resolved for them, before the body, as FastAPI would have run them;
- the endpoint;
- the validation of its answer against the route's response model, so an answer that does
  not fit rolls back (FastAPI then answers the 500 as before);
- the commit of the request's session (`api.deps.get_session`), still before the response
  is sent, so a failed commit reaches the client; anything the body raises rolls it back.

A key check is deferred only where nothing else could run before it: the route's other
dependencies must be of `RUN_BEFORE_CHECKS` (they read `app.state` and do nothing else).
FastAPI reports a malformed path, query or body before calling the endpoint, so for such a
route the 422 handler runs the deferred checks first (`api.problems.CHECK_FIRST`): an
unauthenticated caller still gets its 401 (and the throttle its count) before any word
about the input, as when the check was a dependency of its own.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import Request, Response, params
from fastapi.dependencies.utils import get_typed_return_annotation, get_typed_signature
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import end_session, open_session
from api.problems import CHECK_FIRST
from api.route_marks import IN_THREAD, REQUEST_SESSION, STATE_ONLY
from core.problems import Problem

# Special parameters FastAPI fills by their type, one name each per endpoint.
_SPECIAL = (Request, Response)
# How many endpoint calls run at once, in threads of their own limiter (not the thread pool's
# 40 tokens, which the other plain dependencies keep): the process has one core behind the
# GIL, so more threads than it takes to overlap their database round trips only take turns
# at the GIL, and the request that loses the turns waits ten times the median.
CALLS_AT_ONCE = 4
_LIMITER: RunVar[CapacityLimiter] = RunVar("one_hop_limiter")


def _limiter() -> CapacityLimiter:
    try:
        return _LIMITER.get()
    except LookupError:
        limiter = CapacityLimiter(CALLS_AT_ONCE)
        _LIMITER.set(limiter)
        return limiter


def _dependency(annotation: Any, default: Any) -> Callable[..., Any] | None:
    if isinstance(default, params.Depends):
        return default.dependency
    if get_origin(annotation) is Annotated:
        for extra in reversed(get_args(annotation)[1:]):
            if isinstance(extra, params.Depends):
                return extra.dependency
    return None


def _plain(call: Callable[..., Any]) -> bool:
    return not (inspect.iscoroutinefunction(call) or inspect.isgeneratorfunction(call)
                or inspect.isasyncgenfunction(call))


@dataclass(frozen=True)
class _Deferred:
    """A key check run in the endpoint's thread: its own parameters by the wrapper's names."""

    name: str
    call: Callable[..., Any]
    arguments: dict[str, str]


class _Plan:
    """How one endpoint's parameters map onto its one-call wrapper's."""

    def __init__(self, endpoint: Callable[..., Any]) -> None:
        signature = get_typed_signature(endpoint)
        self.own = list(signature.parameters)
        self.deferred: list[_Deferred] = []
        kept: list[inspect.Parameter] = []
        specials: dict[type, str] = {}
        sessions: list[str] = []  # parameters the request's session fills
        blocked = False
        candidates: list[tuple[inspect.Parameter, Callable[..., Any]]] = []
        for param in signature.parameters.values():
            if param.annotation in _SPECIAL:
                specials[param.annotation] = param.name
            dependency = _dependency(param.annotation, param.default)
            if dependency is not None and getattr(dependency, IN_THREAD, None) is not None \
                    and _plain(dependency):
                candidates.append((param, dependency))
                continue
            if dependency is not None and getattr(dependency, REQUEST_SESSION, False):
                sessions.append(param.name)
                continue
            if dependency is not None and not getattr(dependency, STATE_ONLY, False):
                blocked = True
            kept.append(param)
        if blocked:  # something else might run, or refuse, before the check: keep its order,
            # and FastAPI's session, which that dependency may share
            self.parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                               for p in signature.parameters.values()]
            self.session = sessions[0] if sessions else None
            self.slots: list[str] = []
            self.request: str | None = None
            self.return_annotation = get_typed_return_annotation(endpoint)
            return
        added: list[inspect.Parameter] = []

        def special(kind: type) -> str:
            if kind not in specials:
                specials[kind] = f"_one_hop_{kind.__name__.lower()}"
                added.append(inspect.Parameter(specials[kind], inspect.Parameter.KEYWORD_ONLY,
                                               annotation=kind))
            return specials[kind]

        for param, dependency in candidates:
            arguments: dict[str, str] = {}
            for sub in get_typed_signature(dependency).parameters.values():
                if sub.annotation in _SPECIAL:
                    arguments[sub.name] = special(sub.annotation)
                    continue
                hidden = f"_one_hop_{param.name}_{sub.name}"
                arguments[sub.name] = hidden
                sub_dependency = _dependency(sub.annotation, sub.default)
                if sub_dependency is not None and getattr(sub_dependency, REQUEST_SESSION,
                                                          False):
                    sessions.append(hidden)  # ours, not FastAPI's
                else:
                    added.append(sub.replace(name=hidden, kind=inspect.Parameter.KEYWORD_ONLY))
            self.deferred.append(_Deferred(param.name, dependency, arguments))
        # Nothing but this call uses the session: it is opened and ended in the call itself.
        self.session = None
        self.slots = sessions
        self.request = special(Request) if sessions else None
        self.parameters = [*[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in kept],
                           *added]
        self.return_annotation = get_typed_return_annotation(endpoint)

    def alone(self) -> list[Callable[[Request], None]]:
        return [getattr(each.call, IN_THREAD) for each in self.deferred]


def _one_call(endpoint: Callable[..., Any], route: OneHopRoute) -> Callable[..., Any]:
    plan = _Plan(endpoint)

    def validated(result: Any, session: Session | None) -> Any:
        field = route.response_field
        if field is None or isinstance(result, Response):
            return result
        value, errors = field.validate(result, {}, loc=("response",))
        if errors:  # FastAPI validates it again and answers the 500; nothing is kept
            if session is not None:
                session.rollback()
            raise _Unfit(result)
        return value

    def call(values: dict[str, Any], session: Session | None) -> tuple[Any, bool]:
        """The deferred checks, the endpoint and its validation; the answer, and whether the
        session was committed."""
        try:
            arguments = {name: values[name] for name in plan.own if name in values}
            for each in plan.deferred:
                arguments[each.name] = each.call(**{own: values[ours]
                                                    for own, ours in each.arguments.items()})
            result = validated(endpoint(**arguments), session)
            if session is not None:
                session.commit()
            return result, True
        except _Unfit as unfit:
            return unfit.result, False
        except BaseException:
            if session is not None:
                session.rollback()
            raise

    def run(values: dict[str, Any]) -> Any:
        if plan.request is None:  # FastAPI's session, or none
            return call(values, values[plan.session] if plan.session else None)[0]
        request = values[plan.request]
        with open_session(request) as session:
            values.update(dict.fromkeys(plan.slots, session))
            result, committed = call(values, session)
            if committed:
                end_session(request, session)
            return result

    @functools.wraps(endpoint)
    async def in_one_call(**values: Any) -> Any:
        return await to_thread.run_sync(run, values, limiter=_limiter())

    in_one_call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        plan.parameters, return_annotation=plan.return_annotation)
    alone = plan.alone()
    if alone:
        setattr(in_one_call, CHECK_FIRST, functools.partial(_check_first, alone))
    return in_one_call


class _Unfit(Exception):
    """The endpoint's answer does not fit its response model (rolled back already)."""

    def __init__(self, result: Any) -> None:
        super().__init__("response does not fit the response model")
        self.result = result


async def _check_first(checks: Iterable[Callable[[Request], None]],
                       request: Request) -> Problem | None:
    """The problem a deferred check refuses this request with, if any."""
    def run() -> None:
        for check in checks:
            check(request)
    try:
        await run_in_threadpool(run)
    except Problem as refused:
        return refused
    except SQLAlchemyError:  # the database is away: the 422 stands, nothing was done
        return None
    return None


class OneHopRoute(APIRoute):
    """An `APIRoute` whose plain `def` endpoint runs in one thread-pool call (see above)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.isfunction(endpoint) and _plain(endpoint):
            endpoint = _one_call(endpoint, self)
        super().__init__(path, endpoint, **kwargs)
