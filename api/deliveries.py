"""Starting the delivery of what a request queued, once it has answered.

A route's domain operation may queue outbox messages (webhook events: a key created, a test
event) in the request's transaction; `api.deps.get_session` hands their keys over after the
commit, and this app-wide dependency starts their delivery workflows after the response, so
a slow Temporal never delays an answer. A start that fails is logged and the sweep's delivery
phase sends the messages.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

from fastapi import Request
from temporalio.service import RPCError

from api.temporal import TemporalConnection
from clients.outbox import start_deliveries

log = logging.getLogger("lifecycle.api")


async def start_after_response(temporal: TemporalConnection, task_queue: str,
                               keys: Sequence[str]) -> None:
    if not keys:
        return
    try:
        await start_deliveries(await temporal.get(), task_queue, keys)
    except (ConnectionError, RPCError) as exc:
        log.warning("delivery of %d message(s) left to the sweep: %s", len(keys), exc)


async def deliver_queued(request: Request) -> AsyncIterator[None]:
    yield
    keys: list[str] = getattr(request.state, "queued_messages", [])
    if keys:
        request.state.queued_messages = []
        await start_after_response(request.app.state.temporal,
                                   request.app.state.settings.task_queue, keys)
