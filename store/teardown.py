"""The org teardown's queries: the rows each step deletes, the pages of projects, the proof.

Each `erase_*` function deletes one step's tables for one org and returns the rows deleted per
table, in the caller's transaction: the teardown activity records those counts in its ledger
in that same transaction, so a retry after a commit finds the counts instead of deleting again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store import console_auth, orgs, purge, webhooks
from store.base import rowcount
from store.contact_models import OrgContact
from store.member_models import MemberInvitation
from store.models import (
    ApiKey,
    DatasetRecord,
    DeletionCertificate,
    Invoice,
    KeyTombstone,
    Member,
    Organization,
    OrgStatus,
    Project,
    Quota,
    Reminder,
    Subscription,
    UsageRecord,
)
from store.permission_models import ServicePermission


def _deleted(session: Session, table: Any, org_id: str) -> int:
    return rowcount(session.execute(delete(table).where(table.org_id == org_id)))


def mark_deleting(session: Session, org_id: str) -> None:
    """The point of no return, in the database too: a frozen org becomes `deleting`."""
    session.execute(update(Organization).where(
        Organization.id == org_id, Organization.status == OrgStatus.FROZEN)
        .values(status=OrgStatus.DELETING))


def project_page(session: Session, org_id: str, *, after: str, limit: int) -> list[str]:
    """The next `limit` project ids of the org after `after`, in id order."""
    return list(session.scalars(select(Project.id).where(
        Project.org_id == org_id, Project.id > after).order_by(Project.id).limit(limit)))


def erase_keys(session: Session, org_id: str) -> dict[str, int]:
    """The org's remaining keys (team keys: project keys go with their projects), with their
    tombstones and reminder ledger rows, and its webhook endpoints, events and delivery log."""
    return {**webhooks.erase_org(session, org_id),
            "reminders": _deleted(session, Reminder, org_id),
            "key_tombstones": _deleted(session, KeyTombstone, org_id),
            "api_keys": _deleted(session, ApiKey, org_id)}


def erase_members(session: Session, org_id: str) -> dict[str, int]:
    """Members go with their quotas, service permissions, invitations, console sign-in links
    and sessions; the org's essential contacts with them (addresses, like the members')."""
    return {**console_auth.purge_org(session, org_id),
            "org_contacts": _deleted(session, OrgContact, org_id),
            "member_invitations": _deleted(session, MemberInvitation, org_id),
            "quotas": _deleted(session, Quota, org_id),
            "service_permissions": _deleted(session, ServicePermission, org_id),
            "members": _deleted(session, Member, org_id)}


def erase_usage_and_billing(session: Session, org_id: str) -> dict[str, int]:
    return {"usage_records": _deleted(session, UsageRecord, org_id),
            "invoices": _deleted(session, Invoice, org_id),
            "subscriptions": _deleted(session, Subscription, org_id)}


def erase_org(session: Session, org_id: str) -> dict[str, int]:
    return {"organizations": rowcount(session.execute(
        delete(Organization).where(Organization.id == org_id)))}


def certificate_of(session: Session, org_id: str) -> DeletionCertificate | None:
    """The deletion certificate of an org (one per org), kept after the org is gone."""
    return session.scalars(select(DeletionCertificate).where(
        DeletionCertificate.org_id == org_id)).one_or_none()


def last_deleted_with_name(session: Session, org_name_hash: str) -> datetime | None:
    """When the latest org of this name hash was deleted (its certificate), if ever."""
    return session.scalars(select(func.max(DeletionCertificate.created_at)).where(
        DeletionCertificate.org_name_hash == org_name_hash)).one()


def add_certificate(session: Session, *, org_id: str, org_name_hash: str, requested_by: str,
                    workflow_id: str, run_id: str, steps: list[dict[str, Any]],
                    counts: dict[str, int], verification: dict[str, int]
                    ) -> DeletionCertificate:
    row = DeletionCertificate(org_id=org_id, org_name_hash=org_name_hash,
                              requested_by=requested_by, workflow_id=workflow_id,
                              run_id=run_id, steps=steps, counts=counts,
                              verification=verification)
    session.add(row)
    session.flush()
    return row


def purge_again(session: Session, org_id: str) -> dict[str, int]:
    """Delete everything of an org a restored backup brought back, in this transaction: the
    teardown's steps in its order, without grace (the deletion was decided and certified)."""
    counts: dict[str, int] = {}

    def add(detail: dict[str, int]) -> None:
        for table, n in detail.items():
            counts[table] = counts.get(table, 0) + n

    for project_id in list(session.scalars(select(Project.id).where(Project.org_id == org_id))):
        add({"dataset_records": sum(
            rowcount(session.execute(delete(DatasetRecord).where(
                DatasetRecord.dataset_id == dataset_id)))
            for dataset_id in purge.dataset_ids(session, project_id))})
        add(purge.erase_project(session, project_id))
    add(erase_keys(session, org_id))
    add(erase_members(session, org_id))
    add({"payment_methods": orgs.delete_payment_method(session, org_id)})
    add(erase_usage_and_billing(session, org_id))
    add(erase_org(session, org_id))
    return {table: n for table, n in sorted(counts.items()) if n}
