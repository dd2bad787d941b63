"""Queries behind the console's sign-in: links, sessions and the sign-in rate limiter.

The callers pass hashes, never the secrets themselves. Consuming a link is one conditional
UPDATE, so two clicks racing on the same link (or two replicas) sign in once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store.console_models import ConsoleSession, SignInAttempt, SignInLink
from store.models import Member, Organization, OutboxMessage, Project, Role

SIGN_IN_MESSAGE_PREFIX = "signin:"
SCRUBBED_BODY = "(sign-in link removed: it was valid for one use within 15 minutes)"


def count_attempt(session: Session, bucket: str, now: datetime, window: timedelta) -> int:
    """Record one attempt in `bucket`; the bucket's attempts within `window`, this one included.

    Recording first and counting after means two concurrent requests at the limit are both
    counted: the limiter may refuse one too many, never let one too many through.
    """
    session.execute(delete(SignInAttempt).where(SignInAttempt.created_at < now - window))
    session.add(SignInAttempt(bucket=bucket, created_at=now))
    session.flush()
    return int(session.execute(select(func.count()).select_from(SignInAttempt).where(
        SignInAttempt.bucket == bucket, SignInAttempt.created_at >= now - window)).scalar_one())


def memberships(session: Session, email: str) -> list[tuple[Member, Organization]]:
    """Every (member, org) the address belongs to, compared without regard to case."""
    rows = session.execute(
        select(Member, Organization).join(Organization, Organization.id == Member.org_id)
        .where(func.lower(Member.email) == email.strip().lower())
        .order_by(Organization.name, Organization.id)).all()
    return [(member, org) for member, org in rows]


def add_link(session: Session, *, token_hash: bytes, org_id: str, member_id: str,
             now: datetime, lifetime: timedelta) -> SignInLink:
    link = SignInLink(token_hash=token_hash, org_id=org_id, member_id=member_id,
                      created_at=now, expires_at=now + lifetime)
    session.add(link)
    session.flush()
    return link


def usable_link(session: Session, token_hash: bytes, now: datetime) -> SignInLink | None:
    """The link if it is unused and unexpired (for the confirmation page; nothing changes)."""
    return session.execute(select(SignInLink).where(
        SignInLink.token_hash == token_hash, SignInLink.used_at.is_(None),
        SignInLink.expires_at > now)).scalar_one_or_none()


def consume_link(session: Session, token_hash: bytes, now: datetime) -> SignInLink | None:
    """Mark the link used, once: the link when this call consumed it, else None."""
    result = session.execute(update(SignInLink).where(
        SignInLink.token_hash == token_hash, SignInLink.used_at.is_(None),
        SignInLink.expires_at > now).values(used_at=now)
        .execution_options(synchronize_session=False))
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return None
    link = session.execute(select(SignInLink).where(SignInLink.token_hash == token_hash)
                           ).scalar_one()
    scrub_link_mail(session, link.id)
    return link


def scrub_link_mail(session: Session, link_id: str) -> None:
    """Blank a consumed link's mail, so no link rests in the outbox (one still pending then
    goes out blank: the link in it was used already)."""
    session.execute(update(OutboxMessage).where(
        OutboxMessage.idempotency_key == SIGN_IN_MESSAGE_PREFIX + link_id)
        .values(body=SCRUBBED_BODY)
        .execution_options(synchronize_session=False))


def scrub_expired_link_mail(session: Session, now: datetime, lifetime: timedelta) -> None:
    session.execute(update(OutboxMessage).where(
        OutboxMessage.idempotency_key.like(SIGN_IN_MESSAGE_PREFIX + "%"),
        OutboxMessage.created_at < now - lifetime, OutboxMessage.body != SCRUBBED_BODY)
        .values(body=SCRUBBED_BODY).execution_options(synchronize_session=False))


def add_session(session: Session, *, id_hash: bytes, org_id: str, member_id: str,
                now: datetime, lifetime: timedelta) -> ConsoleSession:
    row = ConsoleSession(id_hash=id_hash, org_id=org_id, member_id=member_id,
                         created_at=now, last_seen_at=now, expires_at=now + lifetime)
    session.add(row)
    session.flush()
    return row


def find_session(session: Session, id_hash: bytes) -> ConsoleSession | None:
    return session.execute(select(ConsoleSession).where(ConsoleSession.id_hash == id_hash)
                           ).scalar_one_or_none()


def end_session(session: Session, session_id: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


def end_member_sessions(session: Session, org_id: str, member_id: str) -> int:
    result = session.execute(delete(ConsoleSession).where(
        ConsoleSession.org_id == org_id, ConsoleSession.member_id == member_id))
    return int(getattr(result, "rowcount", 0) or 0)


def touch_session(session: Session, session_id: str, now: datetime) -> None:
    session.execute(update(ConsoleSession).where(ConsoleSession.id == session_id)
                    .values(last_seen_at=now).execution_options(synchronize_session=False))


def purge_org(session: Session, org_id: str) -> dict[str, int]:
    """Delete every link and session of the org (the teardown's member removal)."""
    out = {}
    for model in (SignInLink, ConsoleSession):
        result = session.execute(delete(model).where(model.org_id == org_id))
        out[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    return out


def project_choices(session: Session, org_id: str, limit: int = 200) -> list[tuple[str, str]]:
    """(id, name) of the org's projects, for the console's project pickers."""
    rows = session.execute(select(Project.id, Project.name).where(Project.org_id == org_id)
                           .order_by(Project.name, Project.id).limit(limit)).all()
    return [(pid, name) for pid, name in rows]


def live_admin_session(session: Session, org_id: str, now: datetime, idle: timedelta) -> bool:
    """Whether an admin of the org is signed in to the console (within both lifetimes)."""
    return session.execute(
        select(ConsoleSession.id).join(Member, Member.id == ConsoleSession.member_id)
        .where(ConsoleSession.org_id == org_id, ConsoleSession.expires_at > now,
               ConsoleSession.last_seen_at >= now - idle, Member.role == Role.ADMIN)
        .limit(1)).first() is not None
