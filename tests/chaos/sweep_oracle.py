"""What a sweep owes, worked out by the test itself, and what the SMTP server really received.

Why an oracle of its own instead of `core.expiry_windows.decide`: a test that asks the product
which reminders were due can only confirm the product agrees with itself. Here each key is
seeded *into* a window (an expiry drawn from inside it, at least an hour from any boundary, so a
second sweep a few minutes later sees the same windows), and the expectation is that window, the
rule of docs/sweep.md (the closest window is sent, wider ones are superseded; the creator
and the org admins are told) applied by hand.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from store.models import OrgStatus
from tests.support.sweep_support import Mail, Org, add_key, make_org, set_org_status

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
WINDOWS_DAYS = [30, 7, 1]
EXPIRED = "expired"
# window -> (earliest, latest) time left at the sweep's clock; None: not due at all
BUCKETS: dict[str | None, tuple[timedelta, timedelta]] = {
    EXPIRED: (-10 * DAY, -HOUR),
    "1d": (HOUR, DAY - HOUR),
    "7d": (DAY + HOUR, 7 * DAY - HOUR),
    "30d": (7 * DAY + HOUR, 30 * DAY - HOUR),
    None: (30 * DAY + HOUR, 90 * DAY),
}
WIDER = {EXPIRED: ("30d", "7d", "1d"), "1d": ("30d", "7d"), "7d": ("30d",), "30d": ()}
# `- key "name" (olt_..., team key) [7-day reminder]` or `[EXPIRED]`
KEY_LINE = re.compile(r'^- key "(?P<name>[^"]+)" \(.*\) \[(?P<tag>[^\]]+)\]$', re.MULTILINE)


@dataclass(frozen=True)
class SeededKey:
    id: str
    name: str
    org_id: str
    window: str | None  # the window it must be announced for; None: nothing owed
    recipients: frozenset[str]

    def ledger(self) -> dict[tuple[str, str], str]:
        """The reminder rows this key must end with: (key id, window) -> status."""
        if self.window is None:
            return {}
        rows = {(self.id, w): "superseded" for w in WIDER[self.window]}
        rows[(self.id, self.window)] = "sent"
        return rows


def seed(sessions: sessionmaker[Session], settings: Settings, rng: random.Random,
         now: datetime, orgs: int, keys_per_org: int) -> tuple[list[SeededKey], list[SeededKey]]:
    """`orgs` active orgs plus one frozen org, keys spread over every bucket.

    Returns (keys of active orgs, keys of the frozen org): a frozen org is skipped by the
    sweep, so its keys are owed nothing even when they are due.
    """
    active: list[SeededKey] = []
    for _ in range(orgs):
        active += _org_keys(sessions, rng, now, keys_per_org, make_org(sessions, settings))
    frozen_org = make_org(sessions, settings)
    frozen = _org_keys(sessions, rng, now, 3, frozen_org)
    set_org_status(sessions, frozen_org, OrgStatus.FROZEN)
    return active, [SeededKey(k.id, k.name, k.org_id, None, frozenset()) for k in frozen]


def _org_keys(sessions: sessionmaker[Session], rng: random.Random, now: datetime, count: int,
              org: Org) -> list[SeededKey]:
    made = []
    for i in range(count):
        window = list(BUCKETS)[i % len(BUCKETS)] if i < len(BUCKETS) else rng.choice(
            list(BUCKETS))
        low, high = BUCKETS[window]
        expires = now + low + (high - low) * rng.random()
        creator = rng.choice([*org.seeded.emails, None])  # None: the creator has left
        name = f"chaos-{org.id[:6]}-{i:03d}"
        key_id = add_key(sessions, org, expires, creator=creator, project=rng.random() < 0.3,
                         name=name)
        to = frozenset({org.admin} | ({creator} if creator else set()))
        made.append(SeededKey(key_id, name, org.id, window, to))
    return made


def window_of(tag: str) -> str:
    """`EXPIRED` -> `expired`, `7-day reminder` -> `7d`."""
    return EXPIRED if tag == "EXPIRED" else tag.removesuffix("-day reminder") + "d"


def announcements(mails: list[Mail]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(recipient, key name) -> {(Message-ID, window)} over every message received, resends
    included: a resend carries the same Message-ID, so it adds nothing to the set."""
    seen: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for mail in mails:
        for match in KEY_LINE.finditer(mail.body.replace("\r\n", "\n")):  # SMTP's CRLF
            for rcpt in mail.to:
                seen[(rcpt, match["name"])].add((mail.message_id, window_of(match["tag"])))
    return seen
