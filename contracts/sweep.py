"""Inputs and results of the key-expiry sweep: one dataclass each, ids and counts only.

These values land in Temporal's history, which outlives keys and members: no names, emails,
key prefixes or webhook secrets here. A single dataclass per call keeps inputs extensible
without breaking replay of running sweeps (new fields get defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

KEYS = "keys"
UNUSED = "unused"  # keys idle under their org's policy: the notice, then the revocation
CARDS = "cards"
COMPOSE = "compose"
DELIVER = "deliver"
DONE = "done"


@dataclass
class SweepTotals:
    """Counts for operators. `messages_sent`/`failed` count the page attempts that completed:
    a message sent by an attempt that then crashed is counted by nobody here; the outbox
    table is the record of what went out."""

    keys_due: int = 0
    cards_due: int = 0
    # Unused keys given their notice by this sweep's claims (a notice an overlapping sweep
    # claimed at the same moment may be counted by both: the ledger keeps one).
    keys_unused_noticed: int = 0
    keys_revoked_unused: int = 0
    reminders_queued: int = 0
    messages_queued: int = 0
    messages_sent: int = 0
    messages_failed: int = 0


@dataclass
class SweepInput:
    """What a sweep does; the schedule fills the settings part, the workflow the rest.

    `now` fixes the sweep's clock (tests and catch-up runs pass it; otherwise the first run
    takes `workflow.now()`), and every page and every continued run uses that same instant so
    they agree on which keys are due.
    """

    windows_days: list[int] = field(default_factory=lambda: [30, 7, 1])
    page_size: int = 10_000
    pages_per_run: int = 50
    # Orgs per compose page. The page reads the keys its reminders name in one statement,
    # and an org's keys lie all over the keys table: each page costs about one pass over it
    # (a scan or as many index probes), so fewer, larger pages cost fewer passes.
    compose_page_size: int = 250
    deliver_page_size: int = 100
    deliver: bool = True
    now: datetime | None = None
    # How long Temporal waits before retrying the page of a worker that died: a killed worker
    # sends no failure, so its page is retried only when a heartbeat or the page times out.
    heartbeat_timeout_seconds: int = 120
    page_timeout_seconds: int = 600
    # Carried across continue-as-new; leave empty when starting a sweep.
    sweep_id: str = ""
    phase: str = KEYS
    cursor: str = ""
    runs: int = 0
    totals: SweepTotals = field(default_factory=SweepTotals)


@dataclass
class SweepResult:
    sweep_id: str
    now: datetime
    runs: int
    totals: SweepTotals


@dataclass
class PageInput:
    """One page of one phase: the sweep's identity and clock, and where the last page ended."""

    sweep_id: str
    now: datetime
    windows_days: list[int]
    cursor: str
    limit: int


@dataclass
class PageResult:
    """`cursor` is opaque to the workflow; `done` ends the phase."""

    cursor: str
    done: bool
    due: int = 0
    noticed: int = 0
    revoked: int = 0
    queued_reminders: int = 0
    queued_messages: int = 0
    sent: int = 0
    failed: int = 0
