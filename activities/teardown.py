"""The org-level teardown activities: freeze, billing, keys, members, card, usage, org, proof.

Every destructive activity runs its work and its ledger row in one transaction (`ledger.once`),
so killing the worker at any line and retrying gives the same end state and the same counts.
Every destructive activity also refuses to touch an org that is not frozen: a teardown can never
delete from a live org, whatever happened to the workflow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities import requests
from activities.billing import BillingGateway
from activities.certificates import Issuer, org_payload
from activities.delivery import StartDelivery
from activities.errors import (
    ORG_NOT_FOUND,
    ORG_NOT_FROZEN,
    TEARDOWN_BLOCKED,
    TEARDOWN_NOT_REQUESTED,
    final,
    refuse_leftovers,
)
from activities.requests import RequestRef
from activities.targets import extra_targets, target_counts, target_leftovers
from contracts.teardown import (
    CertificateInput,
    FreezeResult,
    Notice,
    OrgStep,
    ProjectPage,
    StepCount,
    SubscriptionStep,
    TeardownFailure,
)
from core import webhook_events as events
from core.idempotency import idempotency_key, idempotency_prefix
from core.name_hash import name_hash
from store import contacts, ledger, orgs, outbox, subscriptions, webhooks
from store import requests as request_rows
from store import teardown as teardown_store
from store.audit import audit
from store.base import utcnow
from store.contact_models import NOTIFIED_KINDS
from store.models import (
    Organization,
    OrgStatus,
    RequestStatus,
    TeardownRequest,
)
from store.plan import find_blockers, owned_counts, stored_counts
from store.targets import Scope

log = logging.getLogger(__name__)

# The notices that are also webhook events. `completed` is not: the org's endpoints are
# erased with the org, so nobody of the org is left to receive it (the mail and the
# certificate tell the admin).
NOTICE_EVENTS = {"requested": events.TEARDOWN_REQUESTED,
                 "cancelled": events.TEARDOWN_CANCELLED, "failed": events.TEARDOWN_FAILED}

NOTICE_SUBJECTS = {
    "requested": "Your organization is scheduled for deletion",
    "grace_ending": "Your organization will be deleted in less than a day",
    "cancelled": "The deletion of your organization was cancelled",
    "completed": "Your organization has been deleted",
    "failed": "The deletion of your organization needs attention",
}


def _org(session: Session, org_id: str, *, lock: bool = False) -> Organization:
    """The org (locked until the transaction ends, for a step that changes its status); a
    missing org is final: no retry brings it back."""
    try:
        return orgs.lock_org(session, org_id) if lock else orgs.get_org(session, org_id)
    except orgs.OrgMissing:
        raise final(ORG_NOT_FOUND, f"organization {org_id} not found") from None


def request_ref(step: OrgStep) -> RequestRef:
    """The teardown request a step says its run holds."""
    return RequestRef(step.request_id, step.org_id, step.workflow_id, step.run_id,
                      TEARDOWN_NOT_REQUESTED, "teardown request")


class TeardownActivities:
    """Activities bound to a session factory, a billing gateway and, in the worker, the
    starter of at-once notice delivery (registered as methods).

    Without a starter (unit tests of single steps) notices wait for the sweep's delivery phase.
    """

    def __init__(self, sessions: sessionmaker[Session], billing: BillingGateway,
                 start_delivery: StartDelivery | None = None,
                 issuer: Issuer | None = None,
                 targets: Mapping[str, Any] | None = None) -> None:
        self.sessions = sessions
        self.billing = billing
        self.start_delivery = start_delivery
        self.issuer = issuer or Issuer()
        # Deletion targets by name (store/target_set.py); the relational store is this class.
        self.targets = dict(targets or {})

    # -- helpers ---------------------------------------------------------------------------

    def _frozen_org(self, session: Session, org_id: str) -> Organization:
        org = _org(session, org_id)
        if org.status is OrgStatus.ACTIVE:
            raise final(ORG_NOT_FROZEN,
                        f"organization {org_id} is active: refusing a destructive step")
        return org

    def _step(self, step: OrgStep, key: str,
              work: Callable[[Session], dict[str, int]]) -> StepCount:
        """Run one destructive unit exactly once, with its audit event, in one transaction.

        `work` returns rows deleted per table. The ledger is read first: a retry after the work
        committed (the org row may be gone by then) returns the recorded counts without looking
        at the org again.
        """
        with self.sessions.begin() as session:
            done = ledger.recorded(session, step.org_id, key)
            if done is not None:
                return StepCount(
                    done,
                    {k.split("/", 1)[1]: v for k, v in ledger.entries(
                        session, step.org_id, key + "/").items()})
            self._frozen_org(session, step.org_id)
            requests.held(session, TeardownRequest, request_ref(step))
            detail = work(session)
            for table, n in detail.items():
                ledger.record(session, step.org_id, f"{key}/{table}", n)
            total = sum(detail.values())
            ledger.record(session, step.org_id, key, total)
            audit(session, step.org_id, f"workflow:{step.workflow_id}",
                  "teardown.step_finished", key, **detail)
        log.info("teardown %s: %s -> %s", step.workflow_id, key, detail)
        return StepCount(total, detail)

    # -- freeze, restore, point of no return ----------------------------------------------

    @activity.defn
    def freeze_org(self, step: OrgStep) -> FreezeResult:
        """Claim the API's request, then stop all writes and key use and snapshot the counts
        the certificate will report.

        The claim commits on its own first, so a teardown refused further on (blockers, a
        missing org) still holds its request and closes it as failed. Without an unused
        request for this workflow nothing is touched.
        """
        with self.sessions.begin() as session:
            row, claimed = requests.claim(session, TeardownRequest, request_ref(step))
            actor, grace, min_grace = row.requested_by, row.grace_seconds, row.min_grace_seconds
            if claimed:
                audit(session, step.org_id, actor, "teardown.claimed",
                      f"workflow:{step.workflow_id}", request_id=row.id, run_id=step.run_id)
        with self.sessions.begin() as session:
            org = _org(session, step.org_id, lock=True)
            if org.status is OrgStatus.ACTIVE:
                blocking = [b.reason for b in find_blockers(session, org) if b.blocking]
                if blocking:
                    raise final(TEARDOWN_BLOCKED, "; ".join(blocking))
                org.status = OrgStatus.FROZEN
                org.frozen_at = utcnow()
                audit(session, step.org_id, actor, "teardown.requested",
                      f"workflow:{step.workflow_id}", request_id=step.request_id)
            # The snapshot rows commit together, so either all are recorded or none: a retry
            # reads them back instead of counting every table again.
            snapshot = {key.split(":", 1)[1]: n for key, n in ledger.entries(
                session, step.org_id, "snapshot:").items()}
            if not snapshot:
                # Under the org's lock: an upload holds it too, so none is half counted.
                snapshot = {**stored_counts(session, step.org_id),
                            **target_counts(self.targets, Scope(step.org_id))}
                for table, n in snapshot.items():
                    ledger.record(session, step.org_id, f"snapshot:{table}", n)
            return FreezeResult(org_name_hash=name_hash(org.name), snapshot=snapshot,
                                already_destructive=org.status is OrgStatus.DELETING,
                                grace_seconds=grace, min_grace_seconds=min_grace,
                                targets=extra_targets(self.targets))

    @activity.defn
    def unfreeze_org(self, step: OrgStep) -> None:
        """Cancel during grace: the org is exactly as before (nothing was deleted yet)."""
        with self.sessions.begin() as session:
            org = _org(session, step.org_id)
            if org.status is OrgStatus.ACTIVE:
                return  # restored by an earlier attempt
            if org.status is OrgStatus.DELETING:
                raise final(ORG_NOT_FROZEN, "deletion already started: cannot restore")
            requests.held(session, TeardownRequest, request_ref(step))
            requests.release(session, TeardownRequest, request_ref(step),
                             RequestStatus.CANCELLED)
            org.status = OrgStatus.ACTIVE
            org.frozen_at = None
            ledger.forget(session, step.org_id, "snapshot:")
            audit(session, step.org_id, step.actor, "teardown.cancelled",
                  f"workflow:{step.workflow_id}")

    @activity.defn
    def begin_destruction(self, step: OrgStep) -> None:
        """Mark the point of no return in the database too (status `deleting`)."""
        with self.sessions.begin() as session:
            requests.held(session, TeardownRequest, request_ref(step))
            teardown_store.mark_deleting(session, step.org_id)
            self._frozen_org(session, step.org_id)

    # -- billing ---------------------------------------------------------------------------

    @activity.defn
    def list_subscriptions(self, step: OrgStep) -> dict[str, list[str]]:
        """Ids of the org's active subscriptions by kind (a handful per org)."""
        with self.sessions() as session:
            active = subscriptions.active_by_kind(session, step.org_id)
        return {kind.value: ids for kind, ids in active.items()}

    @activity.defn
    def cancel_subscription(self, step: SubscriptionStep) -> StepCount:
        key = idempotency_key(step.workflow_id, "unsubscribe", step.subscription_id)
        org_step = OrgStep(step.org_id, step.workflow_id, request_id=step.request_id,
                           run_id=step.run_id)
        return self._step(org_step, f"unsubscribe:{step.subscription_id}", lambda s: {
            "subscriptions_cancelled": int(self.billing.cancel_subscription(
                s, step.org_id, step.subscription_id, key))})

    # -- the rest of the org ---------------------------------------------------------------

    @activity.defn
    def list_project_page(self, page: ProjectPage) -> list[str]:
        """The next page of project ids after `page.after`, in id order."""
        with self.sessions() as session:
            return teardown_store.project_page(session, page.org_id, after=page.after,
                                               limit=page.limit)

    @activity.defn
    def revoke_api_keys(self, step: OrgStep) -> StepCount:
        """Delete every remaining key (team keys; project keys went with their projects),
        with the keys' tombstones and reminder ledger rows."""
        return self._step(step, "revoke_api_keys",
                          lambda s: teardown_store.erase_keys(s, step.org_id))

    @activity.defn
    def remove_members(self, step: OrgStep) -> StepCount:
        return self._step(step, "remove_members",
                          lambda s: teardown_store.erase_members(s, step.org_id))

    @activity.defn
    def delete_payment_method(self, step: OrgStep) -> StepCount:
        key = idempotency_key(step.workflow_id, "detach-card")
        return self._step(step, "delete_payment_method", lambda s: {
            "payment_methods": self.billing.detach_payment_method(s, step.org_id, key)})

    @activity.defn
    def erase_usage_and_billing(self, step: OrgStep) -> StepCount:
        return self._step(step, "erase_usage_and_billing",
                          lambda s: teardown_store.erase_usage_and_billing(s, step.org_id))

    @activity.defn
    def delete_org(self, step: OrgStep) -> StepCount:
        return self._step(step, "delete_org",
                          lambda s: teardown_store.erase_org(s, step.org_id))

    @activity.defn
    def verify_nothing_left(self, step: OrgStep) -> dict[str, int]:
        """Count the org's rows in every registered table, and what every other deletion
        target still holds under the org; any leftover fails the teardown."""
        with self.sessions() as session:
            counts = owned_counts(session, step.org_id)
        counts.update(target_leftovers(self.targets, Scope(step.org_id)))
        refuse_leftovers(counts)
        return counts

    @activity.defn
    def write_certificate(self, cert: CertificateInput) -> str:
        """Keep the proof, signed: ids, a name hash, per-step times and counts; no personal
        data. The signed document is written in the same transaction as the row."""
        with self.sessions.begin() as session:
            existing = teardown_store.certificate_of(session, cert.org_id)
            if existing is not None:
                return existing.id
            ref = request_ref(OrgStep(cert.org_id, cert.workflow_id, request_id=cert.request_id,
                                      run_id=cert.claim_run_id))
            request = requests.held(session, TeardownRequest, ref)
            requests.release(session, TeardownRequest, ref, RequestStatus.COMPLETED)
            row = teardown_store.add_certificate(
                session, org_id=cert.org_id, org_name_hash=cert.org_name_hash,
                requested_by=request.requested_by, workflow_id=cert.workflow_id,
                run_id=cert.run_id, steps=cert.steps, counts=cert.counts,
                verification=cert.verification)
            payload = org_payload(row)
            row.signed = self.issuer.sign(payload)
            # in the ledger before the commit: no certificate exists without its entry
            self.issuer.keep(cert.org_id, row.signed, payload)
            audit(session, cert.org_id, f"workflow:{cert.workflow_id}", "teardown.completed",
                  f"certificate:{row.id}")
            return row.id

    @activity.defn
    def fail_teardown_request(self, failure: TeardownFailure) -> None:
        """Close the request this run held as failed, with the reason. The org stays as the
        failure left it (frozen or deleting); a new request resumes the teardown."""
        with self.sessions.begin() as session:
            requests.release(session, TeardownRequest, request_ref(failure.step),
                             RequestStatus.FAILED, failure.reason)

    # -- notifications ---------------------------------------------------------------------

    @activity.defn
    def notify_admin(self, notice: Notice) -> None:
        """Queue a message to the org admin and to the org's technical and security contacts
        in the outbox, then start their delivery at once.

        The addresses are read here, never passed through the workflow; once the member and
        contact rows are gone, the addresses earlier notices of this teardown went to are used.
        The key includes the teardown's first run id: a teardown started again after a cancel
        sends its own notices. The delivery starts after the commit; if the start fails, this
        activity fails and its retry finds the message queued and starts the delivery again.
        """
        key = idempotency_key(notice.workflow_id, notice.teardown_id, notice.kind)
        with self.sessions.begin() as session:
            pending = self._queue_notice(session, notice, key)
            hooks = session.info.pop(webhooks.QUEUED_INFO, [])
        if self.start_delivery is not None and (pending or hooks):
            self.start_delivery(pending + hooks)

    def _recipients(self, session: Session, notice: Notice) -> list[str]:
        """The admin, then the technical and security contacts; once the org's rows are
        gone, everyone an earlier notice of this teardown went to."""
        admin = orgs.admin_email(session, notice.org_id)
        if admin is None:
            return outbox.recipients(session, idempotency_prefix(notice.workflow_id))
        others = contacts.addresses(session, notice.org_id, NOTIFIED_KINDS)
        return [admin, *(a for a in others if a != admin)]

    def _queue_notice(self, session: Session, notice: Notice, key: str) -> list[str]:
        """Write the notice once per recipient (the admin's under `key`, each contact's under
        a key derived from it, all in one transaction); the keys still waiting delivery."""
        if outbox.find(session, key) is not None:
            return outbox.pending_keys(session, key)
        request = request_rows.request_for(session, TeardownRequest, notice.request_id,
                                       notice.org_id)
        if (request is None or request.workflow_id != notice.workflow_id
                or request.run_id != notice.teardown_id):
            log.warning("teardown %s: no claimed request, no %s notice", notice.workflow_id,
                        notice.kind)
            return []
        _emit_notice_event(session, notice)
        if notice.kind == "failed":
            audit(session, notice.org_id, f"workflow:{notice.workflow_id}",
                  "teardown.failed", f"workflow:{notice.workflow_id}",
                  reason=notice.detail)
        recipients = self._recipients(session, notice)
        if not recipients:
            log.warning("teardown %s: no recipient for %s notice", notice.workflow_id,
                        notice.kind)
            return []
        body = (f"Organization {notice.org_id}: {NOTICE_SUBJECTS[notice.kind].lower()}."
                + (f"\n\n{notice.detail}" if notice.detail else ""))
        keys = [key, *(idempotency_key(key, "contact", str(n))
                       for n in range(1, len(recipients)))]
        for message_key, recipient in zip(keys, recipients, strict=True):
            outbox.queue(session, idempotency_key=message_key, org_id=notice.org_id,
                         channel="email", recipient=recipient,
                         subject=NOTICE_SUBJECTS[notice.kind], body=body)
        return keys

    def all(self) -> list[Callable[..., Any]]:
        return [self.freeze_org, self.unfreeze_org, self.begin_destruction,
                self.list_subscriptions, self.cancel_subscription, self.list_project_page,
                self.revoke_api_keys, self.remove_members, self.delete_payment_method,
                self.erase_usage_and_billing, self.delete_org, self.verify_nothing_left,
                self.write_certificate, self.fail_teardown_request, self.notify_admin]


def _emit_notice_event(session: Session, notice: Notice) -> None:
    """The notice's webhook event, once per teardown (its first run id) and kind."""
    event_type = NOTICE_EVENTS.get(notice.kind)
    if event_type is None:
        return
    data = {"teardown_id": notice.teardown_id, "request_id": notice.request_id,
            "workflow_id": notice.workflow_id}
    if notice.kind == "failed":
        data["reason"] = notice.detail[:500]
    webhooks.emit(session, notice.org_id, event_type,
                  f"teardown:{notice.teardown_id}:{notice.kind}", data)
