"""The deliveries a request queued start once it has answered, and never fail the answer.

Why: `api.deliveries.DeliverQueued` replaced an app-wide dependency; the order (the answer
first, then Temporal) and the fallback (a start that fails is left to the sweep) must hold.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from api.deliveries import QUEUED, DeliverQueued
from api.temporal import TemporalConnection


class _Away:
    """A Temporal connection that notes when it was asked for, and is never there."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def get(self) -> Any:
        self.events.append("temporal asked")
        raise ConnectionError("Temporal is away")


def _app(events: list[str], queued: list[str]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if queued:
            scope.setdefault("state", {})[QUEUED] = list(queued)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        events.append("answered")
    return app


@pytest.mark.parametrize("queued", [[], ["message-1", "message-2"]])
async def test_deliveries_start_after_the_answer_and_a_failed_start_is_logged(
        queued: list[str], caplog: pytest.LogCaptureFixture) -> None:
    events: list[str] = []
    middleware = DeliverQueued(_app(events, queued), cast(TemporalConnection, _Away(events)),
                               "queue")
    transport = httpx.ASGITransport(app=middleware)
    with caplog.at_level(logging.WARNING, logger="lifecycle.api"):
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            answer = await client.get("/")
    assert answer.status_code == 200 and answer.text == "ok"
    if queued:
        assert events == ["answered", "temporal asked"]
        assert "delivery of 2 message(s) left to the sweep" in caplog.text
    else:
        assert events == ["answered"]
