"""Writing the request an org teardown acts on: the row is the authority, not the workflow input.

The API writes it (`api.routes.teardown`) under the org's row lock, in the transaction that
checked the admin key, the typed name and the blockers, and commits it before starting the
workflow, whose first activity claims it. Tests, benchmarks and the seed tools that start
teardowns directly write it through `record_request` too, so every teardown goes the same way.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from clients.teardown import teardown_input
from contracts.teardown import TeardownInput, teardown_workflow_id
from core.settings import Settings
from store import requests
from store.db import make_engine, make_session_factory
from store.models import TeardownRequest


def live_request(session: Session, org_id: str) -> TeardownRequest | None:
    """The org's pending or running teardown request, if any."""
    return requests.live_request(session, TeardownRequest, org_id=org_id)


def record_request(session: Session, org_id: str, *, actor: str, grace_seconds: int,
                   min_grace_seconds: int = 0) -> TeardownRequest:
    """A new pending request for the org's teardown, after the caller's checks."""
    return requests.add_request(session, TeardownRequest, org_id=org_id, requested_by=actor,
                                grace_seconds=grace_seconds,
                                min_grace_seconds=min_grace_seconds,
                                workflow_id=teardown_workflow_id(org_id))


def recorded_input(settings: Settings, org_id: str, actor: str, grace_seconds: int, *,
                   min_grace_seconds: int = 0) -> TeardownInput:
    """Write a request (committed) in the settings' database and return the input of the
    teardown acting on it: for callers that start a teardown without the API's checks
    (tests, benchmarks)."""
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            row = record_request(session, org_id, actor=actor, grace_seconds=grace_seconds,
                                 min_grace_seconds=min_grace_seconds)
            request_id = row.id
    finally:
        engine.dispose()
    return teardown_input(settings, org_id, request_id)
