"""The sweep benchmark's fair baseline: the plain script a team would write instead of the engine.

It does the whole job the engine does for the seeded keys, in one process, with no
orchestration, no outbox and no crash safety beyond its transactions:

1. the ledger rows and expired markers, with the raw baseline's two statements
   (`bench.sweep_raw`: select the due keys, insert one row per passed window);
2. one query for every pending key reminder with its key, org and project, one for the members
   of those orgs;
3. the same digests as the product, rendered by the product's own functions
   (`activities.digest_text`, and the mail built by `activities.channels.build_email`): one mail
   per recipient per org, the org's admins plus each key's creator;
4. every mail sent over one SMTP connection to the same sink as the engine's, then the
   reminders marked `sent` in one statement.

What it leaves out, on purpose: webhook events (the bench seeds no endpoints), cards (the bench
seeds none), an outbox to resume from, retries, and any guard against a second run sending twice.
"""

from __future__ import annotations

import hashlib
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from activities.channels import build_email
from activities.digest_text import Item, email_body, email_subject
from bench import sweep_raw
from store.models import ApiKey, Member, Organization, Project, Reminder, Role
from store.reminders import API_KEY, PENDING, SENT


@dataclass(frozen=True)
class PlainSweep:
    ledger_rows: int
    marked_expired: int
    reminders: int
    mails: int


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sweep(engine: Engine, now: datetime, windows_days: list[int], *, smtp_port: int,
          sender: str, console_url: str = "") -> PlainSweep:
    """Ledger rows, digests and mail for every key due at `now`."""
    raw = sweep_raw.sweep(engine, now, windows_days)
    pending = (select(Reminder.org_id, Reminder.window, Reminder.due_at, ApiKey.id, ApiKey.name,
                      ApiKey.prefix, ApiKey.scope, ApiKey.project_id, ApiKey.created_by,
                      Project.name.label("project_name"))
               .join(ApiKey, ApiKey.id == Reminder.subject_id)
               .outerjoin(Project, Project.id == ApiKey.project_id)
               .where(Reminder.status == PENDING, Reminder.subject_kind == API_KEY))
    with engine.connect() as conn:
        rows = conn.execute(pending).all()
        org_ids = sorted({r.org_id for r in rows})
        orgs = {o.id: o for o in conn.execute(
            select(Organization.id, Organization.name, Organization.timezone,
                   Organization.admin_member_id).where(Organization.id.in_(org_ids)))}
        members = conn.execute(select(Member.id, Member.org_id, Member.email, Member.role,
                                      Member.timezone).where(Member.org_id.in_(org_ids))).all()
    people = {m.id: m for m in members}
    admins: dict[str, set[str]] = defaultdict(set)
    for m in members:
        if m.role == Role.ADMIN or m.id == orgs[m.org_id].admin_member_id:
            admins[m.org_id].add(m.id)
    mail: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for r in rows:
        where = f"project {r.project_name or r.project_id}" if r.project_id else "team"
        item = Item("api_key", r.id, r.window, r.due_at, r.name, f"{r.prefix}, {where} key",
                    {"name": r.name, "prefix": r.prefix, "scope": r.scope.value,
                     "project_id": r.project_id})
        to = set(admins[r.org_id]) | ({r.created_by} if r.created_by in people else set())
        for email in {people[m].email for m in to}:
            mail[(r.org_id, email)].append(item)
    zones = {m.email: m.timezone for m in members}
    sent = 0
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        for (org_id, email), items in sorted(mail.items()):
            org = orgs[org_id]
            items.sort(key=lambda i: (i.when, i.kind, i.subject_id, i.window))
            msg, to_addr = build_email(
                sender, f"plain:{org_id}:{_digest(email)}", email,
                email_subject(org.name, items),
                email_body(org.name, items, now, zones.get(email), org.timezone, console_url))
            smtp.send_message(msg, from_addr=sender, to_addrs=[to_addr])
            sent += 1
    with engine.begin() as conn:
        conn.execute(update(Reminder).where(Reminder.status == PENDING,
                                            Reminder.subject_kind == API_KEY)
                     .values(status=SENT, sent_at=now))
    return PlainSweep(raw.ledger_rows, raw.marked_expired, len(rows), sent)
