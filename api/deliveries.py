"""Starting the delivery of what a request queued, once it has answered.

A route's domain operation may queue outbox messages (webhook events: a key created, a test
event) in the request's transaction; `api.deps.get_session` hands their keys over after the
commit, and this app-wide dependency starts their delivery workflows after the response, so
a slow Temporal never delays an answer. A start that fails is logged and the sweep's delivery
phase sends the messages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.service import RPCError

from api.temporal import TemporalConnection
from clients.outbox import start_deliveries

log = logging.getLogger("lifecycle.api")
QUEUED = "queued_messages"  # the `request.state` entry `api.deps.get_session` fills


async def start_after_response(temporal: TemporalConnection, task_queue: str,
                               keys: Sequence[str]) -> None:
    if not keys:
        return
    try:
        await start_deliveries(await temporal.get(), task_queue, keys)
    except (ConnectionError, RPCError) as exc:
        log.warning("delivery of %d message(s) left to the sweep: %s", len(keys), exc)


class DeliverQueued:
    """Starts the deliveries a request queued (`request.state.queued_messages`), once the app
    has answered it."""

    def __init__(self, app: ASGIApp, temporal: TemporalConnection, task_queue: str) -> None:
        self.app = app
        self.temporal = temporal
        self.task_queue = task_queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        state = scope.get("state") if scope["type"] == "http" else None
        keys: list[str] = state.get(QUEUED, []) if state else []
        if keys:
            state[QUEUED] = []  # type: ignore[index]
            await start_after_response(self.temporal, self.task_queue, keys)
