"""The queries of every request row a destructive workflow acts on (`ClaimedRequest`).

A request goes `pending` (written by the API after its checks) -> `running` (claimed by the
one workflow run that acts on it) -> `completed`, `cancelled` or `failed`. At most one request
per subject (an org, a project) is pending or running (a partial unique index), so two clicks
or two API replicas make one request; the claim is what makes "an unused request" mean
something: a second workflow, or the same one started again with made-up input, finds nothing
to claim. A new kind of request is a model with the `ClaimedRequest` columns plus its subject
columns; these functions take the model and the subject as keyword filters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.base import new_id, utcnow
from store.models import ClaimedRequest, RequestStatus

LIVE = (RequestStatus.PENDING, RequestStatus.RUNNING)
Req = TypeVar("Req", bound=ClaimedRequest)


def _where(model: type[Req], subject: dict[str, str]) -> list[Any]:
    return [getattr(model, column) == value for column, value in subject.items()]


def live_request(session: Session, model: type[Req], **subject: str) -> Req | None:
    """The subject's pending or running request, if any."""
    return session.execute(select(model).where(*_where(model, subject),
                                               model.status.in_(LIVE))).scalar_one_or_none()


def latest_request(session: Session, model: type[Req], **subject: str) -> Req | None:
    """The subject's most recent request, whatever became of it."""
    return session.execute(select(model).where(*_where(model, subject))
                           .order_by(model.created_at.desc(), model.id.desc()).limit(1)
                           ).scalar_one_or_none()


def add_request(session: Session, model: type[Req], *, org_id: str, requested_by: str,
                grace_seconds: int, min_grace_seconds: int, workflow_id: str,
                now: datetime | None = None, **subject: str) -> Req:
    row = model()
    values: dict[str, object] = {
        "id": new_id(), "org_id": org_id, "requested_by": requested_by,
        "grace_seconds": grace_seconds, "min_grace_seconds": min_grace_seconds,
        "status": RequestStatus.PENDING, "workflow_id": workflow_id, "detail": "",
        "created_at": now or utcnow(), **subject}
    for column, value in values.items():
        setattr(row, column, value)
    session.add(row)
    session.flush()
    return row


def request_for(session: Session, model: type[Req], request_id: str, org_id: str, *,
                lock: bool = False, **subject: str) -> Req | None:
    """The request with this id, only if it is for this org (and subject)."""
    query = select(model).where(model.id == request_id, model.org_id == org_id,
                                *_where(model, subject))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def finish(row: ClaimedRequest, status: RequestStatus, detail: str = "") -> None:
    row.status = status
    row.detail = detail[:500]
    row.finished_at = utcnow()
