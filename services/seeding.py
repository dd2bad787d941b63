"""Build whole orgs of realistic shape in bulk: for demos (`lifecycle seed`), tests and benchmarks.

Everything an API route can make goes in through the same domain operations the API uses, so
seeded data cannot drift from API-made data (the same checks, stored shapes and audit events,
the seed as actor): the org and its admin (`services.orgs.open_org`, what POST /orgs runs, less
the first key), members (`services.members.join`, what accepting an invitation runs; no mail),
the card (`services.orgs.set_payment_method`, the payment-method route's write), projects,
datasets, API keys, records, quotas and service permissions (`services.projects`,
`services.datasets`, `services.keys`, `services.quotas`, `services.service_permissions`, each
taking a list, so a large org costs a few round trips per table, not one per row).
Subscriptions are recorded by `store.subscriptions.add_subscription`, what the billing
gateway's subscribe records. Usage and invoices have no write route: `store.billing` writes
them, the one place that does. Dataset
records are the bulk (a million per org in benchmarks): `services.datasets.load_records`
streams them with COPY on PostgreSQL, which skips statement processing and takes about half the
time of batched executemany (1M records in ~12 s on these machines, most of it the server's
index and foreign-key work); SQLite has no COPY and no network, and chunked executemany there
does ~125k records/s. Key tombstones and sent reminders (the history of keys deleted and
reminded earlier) are inserted directly: no request makes a past. Every seeded org
returns its exact per-table counts, which tests compare with what a teardown certificate
reports.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.orm import Session

from services import datasets, keys, projects, service_permissions
from services import members as member_service
from services import orgs as org_service
from services import quotas as quota_service
from store import billing, orgs, subscriptions
from store.base import new_id, utcnow
from store.models import (
    InvoiceStatus,
    KeyScope,
    KeyTombstone,
    Reminder,
    Role,
    Service,
    SubscriptionKind,
)
from store.orgs import CardFacts

SEED_ACTOR = "seed"  # the audit actor of everything the seed creates through the services
PAYLOAD_BYTES = 200
# Distinct payloads cycled through an org's records: varied enough that the rows are not one
# repeated value (compression and deduplication would flatter benchmarks), small enough to make
# up front.
PAYLOAD_VARIANTS = 64


@dataclass(frozen=True)
class OrgShape:
    """How big an org to make; every count is exact."""

    projects: int = 2
    datasets_per_project: int = 2
    records_per_dataset: int = 10
    members: int = 3  # including the admin
    team_keys: int = 1  # including the admin's key
    project_keys_per_project: int = 1
    job_plans: int = 2
    workspace_capacity: bool = True
    usage_records: int = 5
    invoices: int = 2
    unpaid_invoices: int = 0
    outstanding_usage: int = 0  # usage records no invoice billed yet (a teardown blocker)
    card: bool = True
    key_tombstones: int = 1  # keys deleted earlier: their tombstones
    reminders: int = 1  # reminder ledger rows already sent for the org's keys
    permissions_off: int = 0  # members (never the admin) who may not use `virtual_compute`


# Members and one project, nothing else: the sweep's tests and benchmark add keys to it.
BARE_ORG = OrgShape(projects=1, datasets_per_project=0, records_per_dataset=0, members=3,
                    team_keys=0, project_keys_per_project=0, job_plans=0,
                    workspace_capacity=False, usage_records=0, invoices=0, card=False,
                    key_tombstones=0, reminders=0)


@dataclass
class SeededOrg:
    org_id: str
    name: str
    admin_member_id: str
    admin_email: str
    admin_key: str
    counts: dict[str, int] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    project_ids: list[str] = field(default_factory=list)


# Hex with its digits spelled as letters: random hex now and then holds 13-19 digits in a row
# that pass the Luhn check, a card number to the check the API applies to typed records.
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def _payloads(rng: random.Random) -> list[bytes]:
    """Record payloads as the API stores them (compact JSON objects), about `PAYLOAD_BYTES`."""
    return [json.dumps({"seq": i, "blob": rng.randbytes((PAYLOAD_BYTES - 30) // 2).hex()
                        .translate(_NO_DIGITS)},
                       separators=(",", ":")).encode() for i in range(PAYLOAD_VARIANTS)]


def seed_org(session: Session, shape: OrgShape, pepper: bytes, *, name: str | None = None,
             rng: random.Random | None = None,
             on_records: Callable[[int], None] | None = None) -> SeededOrg:
    """Insert one org of `shape` in the caller's transaction and return its ids and counts.

    `on_records(n)` is called after each batch of `n` dataset records, so a caller seeding
    millions of rows can show progress; the rows are not committed until the caller commits.
    """
    rng = rng or random.Random()
    now = utcnow()
    tag = new_id()[:8]
    org, admin = org_service.open_org(
        session, name=name or f"Org {tag}", admin_email=f"admin-{tag}@example.com",
        admin_name=f"Admin {tag}", timezone="Europe/Berlin", actor=SEED_ACTOR)
    org_id, admin_id = org.id, admin.id
    orgs.update_org(org, {"description": "Seeded demo organization",
                          "contact_email": f"billing-{tag}@example.com",
                          "website": f"https://{tag}.example.com"})
    joined = member_service.join(session, org_id, [member_service.NewMember(
        email=f"member{i}-{tag}@example.com", name=f"Member {i} {tag}", role=Role.MEMBER,
        timezone=rng.choice(["UTC", "Asia/Taipei", "America/New_York"]))
        for i in range(1, shape.members)], actor=SEED_ACTOR, now=now)
    members = [admin, *joined]

    seeded = SeededOrg(org_id=org_id, name=org.name, admin_member_id=admin_id,
                       admin_email=admin.email, admin_key="",
                       emails=[m.email for m in members])
    counts = seeded.counts
    counts["organizations"] = 1
    counts["members"] = len(members)
    counts["console_sessions"] = counts["console_sign_in_links"] = 0  # nobody signed in yet
    counts["member_invitations"] = 0  # everyone is a member already
    counts["org_contacts"] = 0  # essential contacts are added by the admin
    for table in ("webhook_endpoints", "webhook_events", "webhook_attempts"):
        counts[table] = 0  # no endpoint until an admin adds one

    if shape.card:
        org_service.set_payment_method(session, org_id, CardFacts(
            token=f"tok_{new_id()}", brand="visa", last4=f"{rng.randrange(10_000):04d}",
            exp_month=rng.randint(1, 12), exp_year=now.year + 2), actor=SEED_ACTOR)
    counts["payment_methods"] = int(shape.card)

    plans = [(SubscriptionKind.JOB_PLAN, f"job-plan-{i}") for i in range(shape.job_plans)]
    if shape.workspace_capacity:
        plans.append((SubscriptionKind.WORKSPACE_CAPACITY, "workspace-capacity-standard"))
    for i, (kind, plan) in enumerate(plans):
        subscriptions.add_subscription(session, org_id, kind, plan,
                                       create_key=f"{SEED_ACTOR}-{i}", now=now)
    counts["subscriptions"] = len(plans)

    quota_service.set_quotas(session, org_id, [(m.id, service, rng.randint(10, 100))
                                               for m in members for service in Service],
                             actor=SEED_ACTOR)
    counts["quotas"] = len(members) * len(Service)
    # the last members may not use the last service (the admin may always use every one)
    off = [(m.id, list(Service)[-1], False)
           for m in members[1:][::-1][:shape.permissions_off]]
    if off:
        service_permissions.set_permissions(session, org_id, off, actor=SEED_ACTOR)
    counts["service_permissions"] = len(off)

    project_ids = projects.create_projects(
        session, org_id, [f"project-{i}" for i in range(shape.projects)], actor=SEED_ACTOR)
    seeded.project_ids = project_ids
    counts["projects"] = len(project_ids)

    made_datasets = datasets.create_datasets_in(
        session, org_id, {pid: [f"dataset-{j}" for j in range(shape.datasets_per_project)]
                          for pid in project_ids}, actor=SEED_ACTOR)
    dataset_ids = [ds for pid in project_ids for ds in made_datasets[pid]]
    counts["datasets"] = len(dataset_ids)

    counts["dataset_records"] = datasets.load_records(
        session, org_id, dataset_ids, shape.records_per_dataset, _payloads(rng),
        actor=SEED_ACTOR, on_records=on_records) if shape.records_per_dataset else 0

    # the first team key is the admin's working key (handed back as `admin_key`): it lives the
    # longest, so whoever drives the seeded org is not warned of its expiry; the rest spread
    lifetimes = [rng.randint(1, 365) for _ in range(shape.team_keys)]
    specs = [keys.KeySpec(name=f"team-key-{i}", lifetime_days=365 if i == 0 else days,
                          created_by=admin_id if i == 0 else members[i % len(members)].id)
             for i, days in enumerate(lifetimes)]
    specs += [keys.KeySpec(name=f"project-key-{i}", lifetime_days=rng.randint(1, 365),
                           created_by=admin_id, project_id=pid)
              for pid in project_ids for i in range(shape.project_keys_per_project)]
    made = keys.create_keys(session, org_id, specs, pepper=pepper, actor=SEED_ACTOR)
    if shape.team_keys:
        seeded.admin_key = made[0].secret
    counts["api_keys"] = len(made)

    invoice_ids = billing.add_invoices(session, org_id, [billing.NewInvoice(
        period=f"{now.year}-{(i % 12) + 1:02d}", amount_cents=rng.randint(1_000, 100_000),
        status=InvoiceStatus.UNPAID if i < shape.unpaid_invoices else InvoiceStatus.PAID,
        issued_at=now) for i in range(shape.invoices)])
    counts["invoices"] = len(invoice_ids)

    # Usage is billed by the last invoice; without one it is outstanding, like the extra rows.
    billed_by = invoice_ids[-1] if invoice_ids else None
    counts["usage_records"] = billing.add_usage(session, org_id, [billing.NewUsage(
        project_id=rng.choice(project_ids) if project_ids else None,
        member_id=rng.choice(members).id, service=rng.choice(list(Service)),
        quantity=rng.randint(1, 1000), recorded_at=now,
        invoice_id=billed_by if i < shape.usage_records else None)
        for i in range(shape.usage_records + shape.outstanding_usage)])

    tombstones = [dict(org_id=org_id, key_id=new_id(), prefix=f"olt_old{i:05d}",
                       name=f"retired-key-{i}", scope=KeyScope.TEAM, project_id=None,
                       deleted_by=f"member:{admin_id}", deleted_at=now)
                  for i in range(shape.key_tombstones)]
    if tombstones:
        session.execute(insert(KeyTombstone), tombstones)
    counts["key_tombstones"] = len(tombstones)
    reminders = [dict(org_id=org_id, subject_kind="api_key", subject_id=key.row.id,
                      window="30d", due_at=key.row.expires_at, status="sent", created_at=now,
                      sent_at=now)
                 for key in made[:shape.reminders]]
    if reminders:
        session.execute(insert(Reminder), reminders)
    counts["reminders"] = len(reminders)
    return seeded
