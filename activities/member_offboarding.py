"""A member's offboarding: claim the request, revoke their team keys, release their quotas, end
their console sign-in, notify the admin and the member, delete the member row.

Everything acts only on the removal request the API wrote: the first activity claims it
(pending -> running, naming this run) and every later one checks that this run holds it, so a
workflow started with made-up input is refused before it touches anything. Each counted step is
one transaction that commits its work with its ledger row (`store.ledger.once`), so a retry
after a crash at any line reports the first attempt's count instead of zero; audit events take
their actor from the request row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.errors import ORG_NOT_FOUND, final
from contracts.member_offboarding import (
    REMOVAL_NOT_REQUESTED,
    OffboardingFailure,
    OffboardingStep,
    offboarding_ledger_prefix,
)
from core import webhook_events as events
from store import ledger, members, orgs, outbox, webhooks
from store.audit import audit
from store.base import utcnow
from store.member_models import (
    REMOVAL_COMPLETED,
    REMOVAL_FAILED,
    REMOVAL_PENDING,
    REMOVAL_RUNNING,
    MemberRemovalRequest,
)

log = logging.getLogger(__name__)

StartDelivery = Callable[[Sequence[str]], None]
SUBJECT_ADMIN = "A member was removed from your organization"
SUBJECT_MEMBER = "You were removed from an organization"


def notice_keys(request_id: str) -> tuple[str, str]:
    """The outbox keys of the two notices (to the admin, to the member): ids only."""
    prefix = offboarding_ledger_prefix(request_id)
    return prefix + "notice-admin", prefix + "notice-member"


class MemberOffboardingActivities:
    def __init__(self, sessions: sessionmaker[Session],
                 start_delivery: StartDelivery | None = None) -> None:
        self.sessions = sessions
        self.start_delivery = start_delivery

    def _held(self, session: Session, step: OffboardingStep) -> MemberRemovalRequest:
        """The request, locked, when this run holds it; a final refusal otherwise."""
        row = members.removal_for(session, step.request_id, step.org_id, step.member_id,
                                  lock=True)
        if row is None or row.workflow_id != step.workflow_id:
            raise final(REMOVAL_NOT_REQUESTED, f"no removal request {step.request_id} of "
                        f"member {step.member_id} for this workflow")
        if row.status != REMOVAL_RUNNING or row.run_id != step.run_id:
            raise final(REMOVAL_NOT_REQUESTED, f"removal request {step.request_id} is "
                        f"{row.status} and not held by this run")
        return row

    def _once(self, step: OffboardingStep, name: str,
              work: Callable[[Session, MemberRemovalRequest], int]) -> int:
        """Run one counted step exactly once, with its audit event, in one transaction."""
        key = offboarding_ledger_prefix(step.request_id) + name
        with self.sessions.begin() as session:
            done = ledger.recorded(session, step.org_id, key)
            if done is not None:
                return done
            row = self._held(session, step)
            count = work(session, row)
            ledger.record(session, step.org_id, key, count)
            audit(session, step.org_id, row.requested_by, f"member.offboarding.{name}",
                  f"member:{step.member_id}", request_id=row.id, count=count)
        return count

    @activity.defn
    def claim_removal_request(self, step: OffboardingStep) -> None:
        """Take the unused request for this run, or refuse without touching anything."""
        with self.sessions.begin() as session:
            row = members.removal_for(session, step.request_id, step.org_id, step.member_id,
                                      lock=True)
            if (row is not None and row.workflow_id == step.workflow_id
                    and row.status == REMOVAL_PENDING):
                row.status = REMOVAL_RUNNING
                row.run_id = step.run_id
                row.claimed_at = utcnow()
                audit(session, step.org_id, row.requested_by, "member.offboarding_started",
                      f"member:{step.member_id}", request_id=row.id,
                      workflow_id=step.workflow_id, run_id=step.run_id)
                return
            if (row is not None and row.workflow_id == step.workflow_id
                    and row.run_id == step.run_id):
                # This run's own claim again: a retry, or a replay after a crash that lost
                # the workflow's record of steps whose work had committed (even to the end).
                return
            self._held(session, step)  # anything else is refused untouched

    @activity.defn
    def revoke_member_keys(self, step: OffboardingStep) -> int:
        return self._once(step, "revoke_keys", lambda s, _: members.revoke_member_keys(
            s, step.org_id, step.member_id, utcnow()))

    @activity.defn
    def release_member_quotas(self, step: OffboardingStep) -> int:
        return self._once(step, "release_quotas", lambda s, _: members.release_quotas(
            s, step.org_id, step.member_id))

    @activity.defn
    def end_member_sign_in(self, step: OffboardingStep) -> int:
        """Sessions were ended with the request; this takes any opened since, and links."""
        return self._once(step, "end_sessions", lambda s, _: members.end_sign_in(
            s, step.org_id, step.member_id))

    @activity.defn
    def notify_offboarding(self, step: OffboardingStep) -> int:
        """Queue the notices to the admin and the member, then start their delivery at once
        (a retry after the commit finds them queued and starts what is still pending)."""
        count = self._once(step, "notify", lambda s, _: self._queue_notices(s, step))
        if self.start_delivery is not None:
            with self.sessions() as session:
                pending = [key for key in notice_keys(step.request_id)
                           if (msg := outbox.find(session, key)) is not None
                           and msg.status == outbox.PENDING]
            self.start_delivery(pending)
        return count

    def _queue_notices(self, session: Session, step: OffboardingStep) -> int:
        try:
            org = orgs.get_org(session, step.org_id)
        except orgs.OrgMissing:
            raise final(ORG_NOT_FOUND, f"organization {step.org_id} not found") from None
        member = members.get_member(session, step.org_id, step.member_id)
        admin = orgs.admin_email(session, step.org_id)
        admin_key, member_key = notice_keys(step.request_id)
        queued = 0
        if admin is not None:
            outbox.queue(session, idempotency_key=admin_key, org_id=org.id, channel="email",
                         recipient=admin, subject=SUBJECT_ADMIN,
                         body=(f"Member {step.member_id} was removed from {org.name}: their "
                               "team keys are revoked, their quotas released and their "
                               "console sessions ended."))
            queued += 1
        if member is not None:
            outbox.queue(session, idempotency_key=member_key, org_id=org.id, channel="email",
                         recipient=member.email, subject=SUBJECT_MEMBER,
                         body=(f"You were removed from {org.name}. The API keys you created "
                               "there no longer work, and you can no longer sign in to it."))
            queued += 1
        return queued

    @activity.defn
    def delete_member_row(self, step: OffboardingStep) -> int:
        """Delete the member, close the request as completed and emit `member.removed`, in
        one transaction (the event's id comes from the request: a retry emits nothing new),
        then start the event's delivery; messages a crash leaves queued go with the sweep."""
        queued: list[str] = []

        def work(session: Session, row: MemberRemovalRequest) -> int:
            deleted = members.delete_member(session, step.org_id, step.member_id)
            now = utcnow()
            queued.extend(webhooks.emit(
                session, step.org_id, events.MEMBER_REMOVED, f"member_removal:{row.id}",
                {"member_id": step.member_id, "request_id": row.id,
                 "removed_at": now.isoformat()}, now=now).message_keys)
            counts = {key.removeprefix(offboarding_ledger_prefix(row.id)): n for key, n in
                      ledger.entries(session, step.org_id,
                                     offboarding_ledger_prefix(row.id)).items()}
            members.finish_removal(row, REMOVAL_COMPLETED)
            audit(session, step.org_id, row.requested_by, "member.removed",
                  f"member:{step.member_id}", request_id=row.id,
                  **{**counts, "remove_member": deleted})
            return deleted
        count = self._once(step, "remove_member", work)
        if queued and self.start_delivery is not None:
            self.start_delivery(queued)
        log.info("member %s offboarded (request %s)", step.member_id, step.request_id)
        return count

    @activity.defn
    def fail_removal_request(self, failure: OffboardingFailure) -> None:
        """Close a request this run held as failed, with the reason; the member stays
        `removing` (their keys refused), and a new removal request resumes the offboarding."""
        step = failure.step
        with self.sessions.begin() as session:
            row = members.removal_for(session, step.request_id, step.org_id, step.member_id,
                                      lock=True)
            if row is None or row.status != REMOVAL_RUNNING or row.run_id != step.run_id:
                return
            members.finish_removal(row, REMOVAL_FAILED, failure.reason)
            audit(session, step.org_id, f"workflow:{step.workflow_id}",
                  "member.offboarding_failed", f"member:{step.member_id}", request_id=row.id,
                  reason=failure.reason[:500])

    def all(self) -> list[Callable[..., Any]]:
        return [self.claim_removal_request, self.revoke_member_keys,
                self.release_member_quotas, self.end_member_sign_in, self.notify_offboarding,
                self.delete_member_row, self.fail_removal_request]
