"""Sweep activities that claim reminders: one page of due keys or due cards per call.

A page is one transaction: ledger rows for the window to send (`pending`) and for the wider
windows it supersedes, plus the expired marker on keys and the `unavailable` status on cards.
Killing the worker anywhere and retrying the page gives the same rows (the inserts ignore rows
that exist), so a page is idempotent; digests are written later, per org, by `digests`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from contracts.sweep import PageInput, PageResult
from core import key_policy
from core.expiry_windows import EXPIRED, card_due_at, decide, horizon, month_index
from store import key_claims, reminders, unused_keys
from store.base import utcnow


def _key_cursor(raw: str) -> tuple[datetime, str] | None:
    if not raw:
        return None
    at, key_id = raw.split("|", 1)
    return datetime.fromisoformat(at), key_id


def _ledger_rows(org_id: str, kind: str, subject_id: str, due_at: datetime, send: str,
                 superseded: tuple[str, ...], known: set[tuple[str, str, datetime]]
                 ) -> list[dict[str, Any]]:
    """The rows this decision needs that the ledger does not hold yet."""
    created = utcnow()
    wanted = [(send, reminders.PENDING)] + [(w, reminders.SUPERSEDED) for w in superseded]
    return [dict(org_id=org_id, subject_kind=kind, subject_id=subject_id, window=window,
                 due_at=due_at, status=status, message_key=None, created_at=created,
                 sent_at=None)
            for window, status in wanted if (subject_id, window, due_at) not in known]


class SweepClaimActivities:
    """Claim activities bound to a session factory (registered as bound methods)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @activity.defn(name="sweep_claim_keys")
    def claim_keys(self, page: PageInput) -> PageResult:
        """Claim the reminders of the next page of due keys, in `(expires_at, id)` order.

        PostgreSQL does a page in one statement (`store.key_claims`); SQLite, a development
        database, decides each key here.
        """
        with self.sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                claimed = key_claims.claim_page(session, page.now, page.windows_days,
                                                _key_cursor(page.cursor), page.limit, utcnow(),
                                                actor=f"workflow:{activity.info().workflow_id}")
                last = claimed.last
                cursor = f"{last[0].isoformat()}|{last[1]}" if last else page.cursor
                return PageResult(cursor=cursor, done=claimed.due < page.limit,
                                  due=claimed.due)
            keys = reminders.due_keys(session, horizon(page.now, page.windows_days),
                                      _key_cursor(page.cursor), page.limit)
            known = reminders.existing(session, reminders.API_KEY, [k.id for k in keys])
            rows: list[dict[str, Any]] = []
            expired: list[str] = []
            for key in keys:
                decision = decide(key.expires_at, page.now, page.windows_days)
                if decision.send is None:
                    continue
                rows += _ledger_rows(key.org_id, reminders.API_KEY, key.id, key.expires_at,
                                     decision.send, decision.superseded, known)
                if decision.send == EXPIRED:
                    expired.append(key.id)
            reminders.claim(session, rows)
            reminders.mark_keys_expired(session, expired, page.now,
                                        actor=f"workflow:{activity.info().workflow_id}")
        cursor = f"{keys[-1].expires_at.isoformat()}|{keys[-1].id}" if keys else page.cursor
        return PageResult(cursor=cursor, done=len(keys) < page.limit, due=len(keys))

    @activity.defn(name="sweep_claim_unused_keys")
    def claim_unused_keys(self, page: PageInput) -> PageResult:
        """The org's unused-key policy: claim the notice of keys idle for all but its last
        week, and revoke the keys idle for the whole of it.

        The notice is a ledger row (window `unused`, due at the start of the idle period),
        so it is sent once per key and idle period: a key used since starts a new period. A
        revocation changes the key in this page's transaction, with its audit and webhook
        events, and claims the `unused_revoked` row that mails its creator and the admins
        (the notice still unsent is superseded: nobody reads "will be revoked" after
        "was revoked").
        """
        actor = f"workflow:{activity.info().workflow_id}"
        with self.sessions.begin() as session:
            keys, cursor, done = unused_keys.idle_keys(session, page.now, page.cursor,
                                                       page.limit)
            known = reminders.existing(session, reminders.API_KEY, [k.id for k in keys])
            notices: list[dict[str, Any]] = []
            to_revoke: dict[tuple[str, int], list[unused_keys.IdleKey]] = {}
            for key in keys:
                step = key_policy.decide(key.idle_from, page.now, key.days)
                if step == key_policy.UNUSED:
                    notices += _ledger_rows(key.org_id, reminders.API_KEY, key.id,
                                            key.idle_from, key_policy.UNUSED, (), known)
                elif step == key_policy.UNUSED_REVOKED:
                    to_revoke.setdefault((key.org_id, key.days), []).append(key)
            revoked: list[dict[str, Any]] = []
            for (org_id, days), idle in to_revoke.items():
                done_now = {k.id for k in unused_keys.revoke(
                    session, org_id, [k.id for k in idle], days, page.now, actor)}
                for key in idle:
                    if key.id in done_now:
                        revoked += _ledger_rows(org_id, reminders.API_KEY, key.id,
                                                key.idle_from, key_policy.UNUSED_REVOKED,
                                                (key_policy.UNUSED,), known)
            reminders.claim(session, notices + revoked)
        return PageResult(cursor=cursor, done=done, due=len(keys),
                          noticed=len(notices),
                          revoked=sum(r["window"] == key_policy.UNUSED_REVOKED
                                      for r in revoked))

    @activity.defn(name="sweep_claim_cards")
    def claim_cards(self, page: PageInput) -> PageResult:
        """Claim card reminders; a card past its expiry month is marked unavailable."""
        with self.sessions.begin() as session:
            # cards ending by the horizon: their month is before the horizon's month + 1
            cards = reminders.due_cards(session,
                                        month_index(horizon(page.now, page.windows_days)) + 1,
                                        page.cursor, page.limit)
            known = reminders.existing(session, reminders.CARD, [c.id for c in cards])
            rows: list[dict[str, Any]] = []
            expired: list[str] = []
            due = 0
            for card in cards:
                due_at = card_due_at(card.exp_year, card.exp_month)
                decision = decide(due_at, page.now, page.windows_days)
                if decision.send is None:
                    continue  # due by month, not yet by the exact window
                due += 1
                rows += _ledger_rows(card.org_id, reminders.CARD, card.id, due_at,
                                     decision.send, decision.superseded, known)
                if decision.send == EXPIRED:
                    expired.append(card.id)
            reminders.claim(session, rows)
            reminders.mark_cards_unavailable(session, expired, page.now)
        cursor = cards[-1].id if cards else page.cursor
        return PageResult(cursor=cursor, done=len(cards) < page.limit, due=due)

    def all(self) -> list[Callable[..., Any]]:
        return [self.claim_keys, self.claim_unused_keys, self.claim_cards]
