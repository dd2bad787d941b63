"""Turn claimed reminders into outbox messages: one digest per recipient per org per sweep.

Why a phase of its own after all claim pages: keys are claimed in expiry order, so one org's
keys are spread over many pages; writing mail per page would send a person several mails per
sweep. Here each org is one transaction: its pending ledger rows move to `queued` (naming
their batch) and the outbox rows of the batch are inserted, together or not at all. The
idempotency keys derive from the sweep, the org and the exact set of reminders, so a retried
transaction writes the same keys, and a committed one leaves nothing pending to write again.

Pending rows left by a sweep that died before this phase are picked up by the next sweep,
so a crash delays a reminder but never loses it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import fanout
from activities.digest_text import Item, email_body, email_subject, item_event
from contracts.sweep import PageInput, PageResult
from core import key_policy
from core.expiry_windows import EXPIRED, card_due_at
from store import orgs, outbox, reminders, webhooks
from store.models import ApiKey, Organization, OrgStatus, PaymentStatus, Reminder, Role


def _digest(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def batch_key(sweep_id: str, org_id: str, reminder_ids: list[int]) -> str:
    """`kx:<sweep>:<org>:<set of reminders>`: deterministic for a given claim set."""
    ids = ",".join(str(i) for i in sorted(reminder_ids))
    return f"{reminders.BATCH_PREFIX}{_digest(sweep_id)}:{org_id}:{_digest(ids, 8)}"


UNUSED_WINDOWS = (key_policy.UNUSED_REVOKED, key_policy.UNUSED)  # closest first


def _window_rank(window: str) -> int:
    if window in UNUSED_WINDOWS:
        return UNUSED_WINDOWS.index(window)
    return 0 if window == EXPIRED else int(window.removesuffix("d"))


def _family(window: str) -> str:
    """Expiry reminders and the unused-key notices of one key are separate stories."""
    return "unused" if window in UNUSED_WINDOWS else "expiry"


def _closest_per_subject(rows: list[Reminder]) -> tuple[list[Reminder], list[Reminder]]:
    """Keep the closest pending window of each subject; the wider ones are superseded.

    Two pending windows for one subject happen when a sweep died before its digests and the
    next one claimed a closer window: the reader needs only the closer one.
    """
    by_subject: dict[tuple[str, str, str], list[Reminder]] = defaultdict(list)
    for row in rows:
        by_subject[(row.subject_kind, row.subject_id, _family(row.window))].append(row)
    keep, drop = [], []
    for group in by_subject.values():
        group.sort(key=lambda r: (_window_rank(r.window), r.id))
        keep.append(group[0])
        drop.extend(group[1:])
    return keep, drop


def _still_true(org: Organization, key: ApiKey, row: Reminder) -> bool:
    """Whether the reminder still says something true of the key when its digest is written:
    an expiry reminder of a live key still expiring then; the notice of a live key still idle
    since the same instant under a policy still on; a revocation of a key still revoked."""
    if row.window == key_policy.UNUSED_REVOKED:
        return key.revoked_at is not None
    if key.revoked_at is not None:
        return False
    if row.window == key_policy.UNUSED:
        return (org.revoke_unused_keys_after_days is not None
                and key_policy.idle_since(key.last_used_at, key.created_at) == row.due_at)
    return key.expires_at == row.due_at


def _unused_facts(org: Organization, key: ApiKey, row: Reminder) -> dict[str, Any]:
    """An unused-key item is dated by its revocation (to come, or done) and says since when
    the key is idle; the ledger row's date is the start of that idle period."""
    if row.window == key_policy.UNUSED_REVOKED:
        return {"idle_from": row.due_at, "revoke_at": key.revoked_at}
    if row.window == key_policy.UNUSED and org.revoke_unused_keys_after_days is not None:
        return {"idle_from": row.due_at,
                "revoke_at": key_policy.revoke_at(row.due_at,
                                                  org.revoke_unused_keys_after_days)}
    return {}


class DigestActivities:
    """The compose phase, bound to a session factory."""

    def __init__(self, sessions: sessionmaker[Session], console_url: str = "") -> None:
        self.sessions = sessions
        self.console_url = console_url  # where each reminder links to fix it

    @activity.defn(name="sweep_compose_digests")
    def compose(self, page: PageInput) -> PageResult:
        """Write the digests of the next page of orgs that have pending reminders."""
        with self.sessions() as session:
            orgs = reminders.orgs_with_pending(session, page.cursor, page.limit)
            threads = fanout.threads_for(session)
        result = PageResult(cursor=orgs[-1] if orgs else page.cursor,
                            done=len(orgs) < page.limit)
        def compose_org(org_id: str) -> tuple[int, int]:
            return self._compose_org(org_id, page.sweep_id, page.now)

        for _, (queued, messages) in fanout.each(orgs, compose_org, threads):
            result.queued_reminders += queued
            result.queued_messages += messages
        return result

    def _compose_org(self, org_id: str, sweep_id: str, now: datetime) -> tuple[int, int]:
        with self.sessions.begin() as session:
            try:
                org = orgs.get_org(session, org_id)
            except orgs.OrgMissing:
                return 0, 0
            if org.status != OrgStatus.ACTIVE:
                return 0, 0  # frozen or deleting: left pending, announced if it comes back
            keep, drop = _closest_per_subject(reminders.pending_of_org(session, org_id))
            if not keep:
                return 0, 0
            subjects = reminders.subjects_of(session, org_id, keep)
            items, recipients_of, void = self._items(org, keep, subjects)
            live_ids = [r.id for r in keep if r.id not in void]
            batch = batch_key(sweep_id, org_id, live_ids)
            reminders.set_status(session, org_id, [r.id for r in drop], reminders.SUPERSEDED)
            reminders.set_status(session, org_id, sorted(void), reminders.VOID)
            queued = reminders.set_status(session, org_id, live_ids, reminders.QUEUED, batch)
            if queued != len(live_ids):
                # An overlapping sweep moved some of these rows first: start over from the
                # database's current state rather than announce a partial set twice.
                raise ApplicationError("reminders changed while composing; retrying")
            zones = {m.email: m.timezone for m in subjects.members.values()}
            messages = self._enqueue(session, org, batch, now, items, recipients_of, zones)
            return len(live_ids), messages

    @staticmethod
    def _items(org: Organization, rows: list[Reminder], subjects: reminders.DigestSubjects
               ) -> tuple[list[Item], dict[str, set[str]], set[int]]:
        """Digest items (ordered by expiry), each item's recipients, and rows now void."""
        members = subjects.members
        admins = {m.id for m in members.values()
                  if m.role == Role.ADMIN or m.id == org.admin_member_id}
        items: list[Item] = []
        recipients_of: dict[str, set[str]] = {}
        void: set[int] = set()
        for row in rows:
            item: Item | None = None
            to: set[str] = set(admins)
            if row.subject_kind == reminders.API_KEY:
                key = subjects.keys.get(row.subject_id)
                if key is not None and _still_true(org, key, row):
                    project = key.project_id
                    where = (f"project {subjects.project_names.get(project, project)}"
                             if project else "team")
                    item = Item("api_key", key.id, row.window, row.due_at, key.name,
                                f"{key.prefix}, {where} key",
                                {"name": key.name, "prefix": key.prefix, "scope": key.scope.value,
                                 "project_id": key.project_id},
                                **_unused_facts(org, key, row))
                    # A departed creator's member row is gone: the admins remain.
                    if key.created_by in members:
                        to.add(key.created_by)
            else:
                card = subjects.cards.get(row.subject_id)
                if card is not None and card_due_at(card.exp_year, card.exp_month) == row.due_at \
                        and (card.status == PaymentStatus.VALID or row.window == EXPIRED):
                    item = Item("card", card.id, row.window, row.due_at,
                                f"{card.brand} ending {card.last4}",
                                f"valid through {card.exp_month:02d}/{card.exp_year}",
                                {"brand": card.brand, "last4": card.last4})
            if item is None:
                void.add(row.id)
                continue
            items.append(item)
            recipients_of[item.subject_id] = {members[m].email for m in to}
        items.sort(key=lambda i: (i.when, i.kind, i.subject_id, i.window))
        return items, recipients_of, void

    def _enqueue(self, session: Session, org: Organization, batch: str,
                 now: datetime, items: list[Item], recipients_of: dict[str, set[str]],
                 zones: dict[str, str]) -> int:
        """Insert one email per recipient and one webhook event per reminder (queued for each
        endpoint that wants it); returns the count of outbox messages."""
        if not items:
            return 0
        per_person: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            for email in sorted(recipients_of[item.subject_id]):
                per_person[email].append(item)
        rows: list[dict[str, Any]] = [
            dict(idempotency_key=f"{batch}:email:{_digest(email)}", org_id=org.id,
                 channel="email", recipient=email, subject=email_subject(org.name, mine),
                 body=email_body(org.name, mine, now, zones.get(email), org.timezone,
                                 self.console_url))
            for email, mine in sorted(per_person.items())]
        for row in rows:
            outbox.queue(session, **row)
        hooks = 0
        for item in items:
            if item.window == key_policy.UNUSED_REVOKED:
                continue  # its `api_key.revoked` event was written with the revocation
            event_type, occurrence, data = item_event(item, now)
            hooks += len(webhooks.emit(session, org.id, event_type, occurrence, data,
                                       now=now).message_keys)
        return len(rows) + hooks

    def all(self) -> list[Callable[..., Any]]:
        return [self.compose]
