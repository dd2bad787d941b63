"""Turn claimed reminders into outbox messages: one digest per recipient per org per sweep.

Why a phase of its own after all claim pages: keys are claimed in expiry order, so one org's
keys are spread over many pages; writing mail per page would send a person several mails per
sweep. Here each page of orgs is one transaction: one statement moves its pending ledger rows
to `queued` (each naming its org's batch) and the outbox rows of the page are inserted in one
batch, together or not at all. The idempotency keys derive from the sweep, the org and the
exact set of reminders, so a retried page writes the same keys, and a committed one leaves
nothing pending to write again.

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

from activities.digest_text import Item, email_body, email_subject, item_event
from contracts.sweep import PageInput, PageResult
from core import key_policy
from core.expiry_windows import EXPIRED, card_due_at
from store import orgs, outbox, reminders, webhooks
from store.models import Organization, OrgStatus, PaymentStatus, Role
from store.reminders import KeySubject, PendingReminder, Recipient


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


def _closest_per_subject(rows: list[PendingReminder]
                         ) -> tuple[list[PendingReminder], list[PendingReminder]]:
    """Keep the closest pending window of each subject; the wider ones are superseded.

    Two pending windows for one subject happen when a sweep died before its digests and the
    next one claimed a closer window: the reader needs only the closer one.
    """
    by_subject: dict[tuple[str, str, str], list[PendingReminder]] = {}
    for row in rows:
        by_subject.setdefault((row.subject_kind, row.subject_id, _family(row.window)),
                              []).append(row)
    keep, drop = [], []
    for group in by_subject.values():
        if len(group) > 1:  # rare: most subjects have one pending window
            group.sort(key=lambda r: (_window_rank(r.window), r.id))
            drop.extend(group[1:])
        keep.append(group[0])
    return keep, drop


def _still_true(org: Organization, key: KeySubject, row: PendingReminder) -> bool:
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


def _unused_facts(org: Organization, key: KeySubject, row: PendingReminder) -> dict[str, Any]:
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
        """Write the digests of the next page of orgs that have pending reminders.

        The page is one transaction: its pending rows are read (and locked) in one query, their
        subjects in four, every digest is rendered in one pass, one statement moves every row
        to its new status and the outbox rows go in together. A crash anywhere before the
        commit leaves the page as it was; a retry computes the same batches, so the same
        idempotency keys, and a committed page leaves nothing pending to write again.
        """
        with self.sessions.begin() as session:
            org_ids = reminders.orgs_with_pending(session, page.cursor, page.limit)
            queued, messages = self._compose_page(session, org_ids, page.sweep_id, page.now)
        return PageResult(cursor=org_ids[-1] if org_ids else page.cursor,
                          done=len(org_ids) < page.limit, queued_reminders=queued,
                          queued_messages=messages)

    def _compose_page(self, session: Session, org_ids: list[str], sweep_id: str,
                      now: datetime) -> tuple[int, int]:
        # Frozen or deleting orgs are left pending, announced if they come back.
        active = [o for o in orgs.get_orgs(session, org_ids) if o.status == OrgStatus.ACTIVE]
        ids = [o.id for o in active]
        pending: dict[str, list[PendingReminder]] = defaultdict(list)
        for row in reminders.pending_of_orgs(session, ids):
            pending[row.org_id].append(row)
        if not pending:
            return 0, 0
        subjects = reminders.subjects_of(session, ids)
        listening = webhooks.orgs_with_endpoints(session, ids)
        moves: list[reminders.Move] = []
        digests: list[tuple[Organization, str, list[Item], dict[str, frozenset[str]]]] = []
        queued = 0
        for org in active:
            keep, drop = _closest_per_subject(pending.get(org.id, []))
            if not keep:
                continue
            members = subjects.members.get(org.id, {})
            items, recipients_of, void = self._items(org, keep, members, subjects)
            live_ids = [r.id for r in keep if r.id not in void]
            batch = batch_key(sweep_id, org.id, live_ids)
            moves += [reminders.Move(r.id, reminders.SUPERSEDED) for r in drop]
            moves += [reminders.Move(i, reminders.VOID) for i in sorted(void)]
            moves += [reminders.Move(i, reminders.QUEUED, batch) for i in live_ids]
            queued += len(live_ids)
            digests.append((org, batch, items, recipients_of))

        def render() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for org, batch, items, recipients_of in digests:
                # A person's zone is the one of their membership in this org.
                zones = {m.email: m.timezone for m in subjects.members.get(org.id, {}).values()}
                rows += self._emails(org, batch, now, items, recipients_of, zones)
            return rows

        # The mails render while the database moves the rows (see `reminders.move_while`).
        moved, outbox_rows = reminders.move_while(session, moves, render)
        if moved != len(moves):
            # An overlapping sweep moved some of these rows first: start over from the
            # database's current state rather than announce a partial set twice.
            raise ApplicationError("reminders changed while composing; retrying")
        hooks = sum(self._events(session, org, now, items)
                    for org, _, items, _ in digests if org.id in listening)
        outbox.queue_many(session, outbox_rows)
        return queued, len(outbox_rows) + hooks

    @staticmethod
    def _items(org: Organization, rows: list[PendingReminder], members: dict[str, Recipient],
               subjects: reminders.DigestSubjects
               ) -> tuple[list[Item], dict[str, frozenset[str]], set[int]]:
        """Digest items (ordered by expiry), each item's recipients, and rows now void.

        An item goes to the org's admins plus its key's creator: one recipient set per creator,
        shared by that creator's items, rather than a set built per reminder."""
        admins = frozenset(m.email for m in members.values()
                           if m.role == Role.ADMIN or m.id == org.admin_member_id)
        to_of: dict[str, frozenset[str]] = {}  # by creator
        items: list[Item] = []
        recipients_of: dict[str, frozenset[str]] = {}
        void: set[int] = set()
        for row in rows:
            item: Item | None = None
            to = admins
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
                    creator = members.get(key.created_by or "")
                    if creator is not None:
                        to = to_of.get(creator.id) or to_of.setdefault(
                            creator.id, admins | {creator.email})
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
            recipients_of[item.subject_id] = to
        items.sort(key=lambda i: (i.when, i.kind, i.subject_id, i.window))
        return items, recipients_of, void

    def _emails(self, org: Organization, batch: str, now: datetime, items: list[Item],
                recipients_of: dict[str, frozenset[str]], zones: dict[str, str]
                ) -> list[dict[str, Any]]:
        """The outbox rows of one org's digest: one email per recipient."""
        per_person: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            for email in recipients_of[item.subject_id]:
                per_person[email].append(item)
        return [
            dict(idempotency_key=f"{batch}:email:{_digest(email)}", org_id=org.id,
                 channel="email", recipient=email, subject=email_subject(org.name, mine),
                 body=email_body(org.name, mine, now, zones.get(email), org.timezone,
                                 self.console_url))
            for email, mine in sorted(per_person.items())]

    @staticmethod
    def _events(session: Session, org: Organization, now: datetime, items: list[Item]) -> int:
        """One webhook event per reminder, queued for each endpoint that wants it (orgs with
        endpoints only: for the others `emit` would write nothing); returns the messages."""
        hooks = 0
        for item in items:
            if item.window == key_policy.UNUSED_REVOKED:
                continue  # its `api_key.revoked` event was written with the revocation
            event_type, occurrence, data = item_event(item, now)
            hooks += len(webhooks.emit(session, org.id, event_type, occurrence, data,
                                       now=now).message_keys)
        return hooks

    def all(self) -> list[Callable[..., Any]]:
        return [self.compose]
