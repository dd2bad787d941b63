"""Claiming the request row a destructive workflow acts on, and checking it is still held.

One design for every workflow that destroys (org teardown, project deletion, and any later
one): the API writes a `ClaimedRequest` row after its checks; the workflow's first activity
claims it (pending -> running, naming the run) in the same transaction as its first change;
every later destructive activity checks that the run still holds it. A workflow started by
anyone else, with made-up input, finds no unused request with its workflow id and is refused
non-retryable before it touches anything. The run named is the chain's first execution run,
so a run continued as new still holds its request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from activities.errors import final
from store import requests
from store.base import utcnow
from store.models import ClaimedRequest, RequestStatus

Req = TypeVar("Req", bound=ClaimedRequest)


@dataclass(frozen=True)
class RequestRef:
    """Which request a run says it acts on, and which run it is."""

    request_id: str
    org_id: str
    workflow_id: str
    run_id: str
    refusal: str  # the non-retryable error type raised when the request is not this run's
    noun: str = "request"  # how refusals name it ("deletion request", "teardown request")


def claim(session: Session, model: type[Req], ref: RequestRef,
          **subject: str) -> tuple[Req, bool]:
    """The request, locked and held by this run; True when this call claimed it (the caller
    audits the start then). A retry of this run's own claim passes; anything else is refused
    untouched."""
    row = requests.request_for(session, model, ref.request_id, ref.org_id, lock=True,
                               **subject)
    if (row is not None and row.workflow_id == ref.workflow_id
            and row.status is RequestStatus.PENDING):
        row.status = RequestStatus.RUNNING
        row.run_id = ref.run_id
        row.claimed_at = utcnow()
        return row, True
    return held(session, model, ref, **subject), False


def held(session: Session, model: type[Req], ref: RequestRef, **subject: str) -> Req:
    """The request, locked, when this run holds it; a final refusal otherwise."""
    row = requests.request_for(session, model, ref.request_id, ref.org_id, lock=True,
                               **subject)
    if row is None or row.workflow_id != ref.workflow_id:
        raise final(ref.refusal, f"no {ref.noun} {ref.request_id or '(none)'} of "
                    f"{_subject(ref, subject)} for this workflow ({ref.workflow_id})")
    if row.status is not RequestStatus.RUNNING or row.run_id != ref.run_id:
        raise final(ref.refusal, f"{ref.noun} {ref.request_id} is {row.status.value} and not "
                    "held by this run")
    return row


def release(session: Session, model: type[Req], ref: RequestRef, status: RequestStatus,
            detail: str = "", **subject: str) -> Req | None:
    """Close the request this run holds (completed, cancelled, failed); None, and nothing
    changed, when this run does not hold it (refused at the claim, or closed already)."""
    row = requests.request_for(session, model, ref.request_id, ref.org_id, lock=True,
                               **subject)
    if (row is None or row.status is not RequestStatus.RUNNING or row.run_id != ref.run_id
            or row.workflow_id != ref.workflow_id):
        return None
    requests.finish(row, status, detail)
    return row


def _subject(ref: RequestRef, subject: dict[str, str]) -> str:
    named = [f"{column.removesuffix('_id')} {value}" for column, value in subject.items()]
    return ", ".join(named) if named else f"org {ref.org_id}"
