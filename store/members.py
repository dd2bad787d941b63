"""Member, invitation and removal-request queries: what the member services and the offboarding
activities read and write.

Consuming an invitation is one conditional UPDATE (open, unexpired, of this org), so two clicks
on one mail, or two replicas, make one member. Every function takes the caller's session and
never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store import service_permissions
from store.base import new_id, rowcount, utcnow
from store.console_models import ConsoleSession, SignInLink
from store.member_models import (
    REMOVAL_PENDING,
    REMOVAL_RUNNING,
    MemberInvitation,
    MemberRemovalRequest,
)
from store.models import ApiKey, KeyScope, Member, MemberStatus, OutboxMessage, Quota, Role
from store.paging import keyset_page
from store.permission_models import ServicePermission

INVITATION_MESSAGE_PREFIX = "invitation:"
SCRUBBED_BODY = "(invitation link removed: it was used, replaced, revoked or has expired)"
LIVE_REMOVALS = (REMOVAL_PENDING, REMOVAL_RUNNING)
Inv = MemberInvitation
R = MemberRemovalRequest


# -- members -------------------------------------------------------------------------------

def get_member(session: Session, org_id: str, member_id: str, *,
               lock: bool = False) -> Member | None:
    """The org's member; another org's member is as unknown here as a made-up id."""
    query = select(Member).where(Member.id == member_id, Member.org_id == org_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def member_by_email(session: Session, org_id: str, email: str) -> Member | None:
    return session.execute(select(Member).where(
        Member.org_id == org_id, func.lower(Member.email) == email.strip().lower())
    ).scalars().first()


def add_member(session: Session, *, org_id: str, email: str, name: str, role: Role,
               now: datetime, member_id: str | None = None, timezone: str = "UTC") -> Member:
    row = Member(id=member_id or new_id(), org_id=org_id, email=email, name=name, role=role,
                 status=MemberStatus.ACTIVE, timezone=timezone, created_at=now)
    session.add(row)
    session.flush()
    return row


def add_members(session: Session, org_id: str, people: list[tuple[str, str, Role, str]], *,
                now: datetime) -> list[Member]:
    """Active members (email, name, role, timezone) in one flush: an org of many at once."""
    rows = [Member(id=new_id(), org_id=org_id, email=email, name=name, role=role,
                   status=MemberStatus.ACTIVE, timezone=timezone, created_at=now)
            for email, name, role, timezone in people]
    session.add_all(rows)
    session.flush()
    return rows


def taken_emails(session: Session, org_id: str, emails: list[str]) -> set[str]:
    """Which of `emails` (lower-cased) already belong to a member of the org."""
    wanted = sorted({email.strip().lower() for email in emails})
    if not wanted:
        return set()
    return set(session.scalars(select(func.lower(Member.email)).where(
        Member.org_id == org_id, func.lower(Member.email).in_(wanted))))


def list_members(session: Session, org_id: str, *, limit: int,
                 after: str = "") -> tuple[list[Member], str | None]:
    return keyset_page(session, select(Member).where(Member.org_id == org_id), Member.id,
                       limit=limit, after=after)


def member_key_count(session: Session, member_id: str) -> int:
    """Unrevoked team keys the member made: what a removal would take out of service."""
    return int(session.execute(select(func.count()).select_from(ApiKey).where(
        ApiKey.created_by == member_id, ApiKey.scope == KeyScope.TEAM,
        ApiKey.revoked_at.is_(None))).scalar_one())


# -- invitations ---------------------------------------------------------------------------

def add_invitation(session: Session, *, org_id: str, email: str, role: Role,
                   token_hash: bytes, invited_by: str, now: datetime,
                   expires_at: datetime) -> MemberInvitation:
    row = Inv(id=new_id(), org_id=org_id, email=email, role=role.value, token_hash=token_hash,
            invited_by=invited_by, sends=1, created_at=now, sent_at=now, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def get_invitation(session: Session, org_id: str, invitation_id: str, *,
                   lock: bool = False) -> MemberInvitation | None:
    query = select(Inv).where(Inv.id == invitation_id, Inv.org_id == org_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def open_invitation(session: Session, org_id: str, email: str,
                    now: datetime) -> MemberInvitation | None:
    """The address's invitation that can still be accepted, if any."""
    return session.execute(select(Inv).where(
        Inv.org_id == org_id, func.lower(Inv.email) == email.strip().lower(),
        Inv.accepted_at.is_(None), Inv.revoked_at.is_(None), Inv.expires_at > now)
    ).scalars().first()


def invitation_by_hash(session: Session, token_hash: bytes) -> MemberInvitation | None:
    return session.execute(select(Inv).where(Inv.token_hash == token_hash)).scalar_one_or_none()


def consume_invitation(session: Session, token_hash: bytes, org_id: str,
                       now: datetime) -> MemberInvitation | None:
    """Mark the invitation accepted, once: the row when this call consumed it, else None
    (unknown, another org's, used, revoked or expired)."""
    result = session.execute(update(Inv).where(
        Inv.token_hash == token_hash, Inv.org_id == org_id, Inv.accepted_at.is_(None),
        Inv.revoked_at.is_(None), Inv.expires_at > now).values(accepted_at=now)
        .execution_options(synchronize_session=False))
    if rowcount(result) != 1:
        return None
    return session.execute(select(Inv).where(Inv.token_hash == token_hash)
                           .execution_options(populate_existing=True)).scalar_one()


def list_invitations(session: Session, org_id: str, *, limit: int,
                     after: str = "") -> tuple[list[MemberInvitation], str | None]:
    return keyset_page(session, select(Inv).where(Inv.org_id == org_id), Inv.id, limit=limit,
                       after=after)


def invitation_status(row: MemberInvitation, now: datetime) -> str:
    """accepted > revoked > expired > pending; computed, never stored."""
    if row.accepted_at is not None:
        return "accepted"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    return "pending"


def invitation_message_key(invitation_id: str, send: int) -> str:
    """The outbox key of an invitation's `send`-th mail (ids only: it goes into history)."""
    return f"{INVITATION_MESSAGE_PREFIX}{invitation_id}:{send}"


def scrub_invitation_mail(session: Session, invitation_id: str) -> None:
    """Blank every mail of the invitation, so no usable link rests in the outbox (one still
    pending then goes out blank: its link is not valid any more)."""
    session.execute(update(OutboxMessage).where(
        OutboxMessage.idempotency_key.startswith(
            f"{INVITATION_MESSAGE_PREFIX}{invitation_id}:", autoescape=True))
        .values(body=SCRUBBED_BODY).execution_options(synchronize_session=False))


def scrub_expired_invitation_mail(session: Session, org_id: str, now: datetime) -> None:
    """Blank the mails of the org's invitations that expired (run as new ones are sent)."""
    expired = select(Inv.id).where(Inv.org_id == org_id, Inv.expires_at <= now,
                                 Inv.accepted_at.is_(None), Inv.revoked_at.is_(None))
    for invitation_id in session.scalars(expired):
        scrub_invitation_mail(session, invitation_id)


# -- removal requests ----------------------------------------------------------------------

def live_removal(session: Session, member_id: str) -> MemberRemovalRequest | None:
    return session.execute(select(R).where(R.member_id == member_id,
                                           R.status.in_(LIVE_REMOVALS))).scalar_one_or_none()


def latest_removal(session: Session, org_id: str,
                   member_id: str) -> MemberRemovalRequest | None:
    return session.execute(select(R).where(R.org_id == org_id, R.member_id == member_id)
                           .order_by(R.created_at.desc(), R.id.desc()).limit(1)
                           ).scalar_one_or_none()


def add_removal(session: Session, *, org_id: str, member_id: str, requested_by: str,
                workflow_id: str, now: datetime) -> MemberRemovalRequest:
    row = R(id=new_id(), org_id=org_id, member_id=member_id, requested_by=requested_by,
            status=REMOVAL_PENDING, workflow_id=workflow_id, detail="", created_at=now)
    session.add(row)
    session.flush()
    return row


def removal_for(session: Session, request_id: str, org_id: str, member_id: str, *,
                lock: bool = False) -> MemberRemovalRequest | None:
    """The request with this id, only if it is for this org and member."""
    query = select(R).where(R.id == request_id, R.org_id == org_id, R.member_id == member_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def finish_removal(row: MemberRemovalRequest, status: str, detail: str = "") -> None:
    row.status = status
    row.detail = detail[:500]
    row.finished_at = utcnow()


# -- what an offboarding does --------------------------------------------------------------

def revoke_member_keys(session: Session, org_id: str, member_id: str, now: datetime) -> int:
    """Revoke the unrevoked team keys the member created; how many."""
    return rowcount(session.execute(update(ApiKey).where(
        ApiKey.org_id == org_id, ApiKey.created_by == member_id,
        ApiKey.scope == KeyScope.TEAM, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)))


def release_quotas(session: Session, org_id: str, member_id: str) -> int:
    """Delete the member's quota rows (their share goes back to the org) and their service
    permission switches (they decide nothing once the member is gone); how many quotas."""
    service_permissions.erase_member(session, member_id)
    return rowcount(session.execute(delete(Quota).where(Quota.org_id == org_id,
                                                        Quota.member_id == member_id)))


def end_sign_in(session: Session, org_id: str, member_id: str) -> int:
    """Delete the member's console sessions and sign-in links; how many sessions."""
    session.execute(delete(SignInLink).where(SignInLink.org_id == org_id,
                                             SignInLink.member_id == member_id))
    return rowcount(session.execute(delete(ConsoleSession).where(
        ConsoleSession.org_id == org_id, ConsoleSession.member_id == member_id)))


def delete_member(session: Session, org_id: str, member_id: str) -> int:
    """Delete the member row with their service permissions (and any quota set while the
    offboarding ran); their (revoked) keys stay, no longer naming a creator."""
    release_quotas(session, org_id, member_id)
    session.execute(delete(ServicePermission).where(ServicePermission.org_id == org_id,
                                                    ServicePermission.member_id == member_id))
    session.execute(update(ApiKey).where(ApiKey.org_id == org_id,
                                         ApiKey.created_by == member_id)
                    .values(created_by=None).execution_options(synchronize_session=False))
    return rowcount(session.execute(delete(Member).where(Member.org_id == org_id,
                                                         Member.id == member_id)))
