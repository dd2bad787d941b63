"""Members: invite by mail, re-send, revoke, accept, change a role, ask for a removal.

Every write locks the org and refuses unless it is active (`guards.writable_org`), and leaves
an audit event naming ids only (an address is personal data; the audit trail outlives the
org). The org's admin account is fixed at creation: its role never changes and it is never
removed (409 `admin-immutable`).

An invitation's token is made here and put only in its mail, which is queued to the outbox
in the same transaction (the caller starts its delivery after the commit); the database keeps
its HMAC. Re-sending makes a new token, so the previous mail's link stops working; accepting,
revoking or re-sending blanks the older mails, so no usable link rests in the outbox.

Removing a member writes the request the offboarding workflow acts on, marks the member
`removing` (their team keys stop authenticating in this same commit) and ends their console
sessions; the caller commits, then starts the workflow, which revokes, releases, notifies and
finally deletes the member row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from contracts.member_offboarding import (
    COUNTED,
    member_offboarding_workflow_id,
    offboarding_ledger_prefix,
)
from core.problems import AdminImmutable, Conflict, InvalidInput, InvitationNotValid, NotFound
from core.tokens import keyed_hash, new_secret
from services.guards import org_or_404, writable_org
from services.keys import KeySpec, create_key
from services.names import check_email, check_name
from store import console_auth, ledger, members, outbox
from store.apikeys import CreatedKey
from store.audit import audit, audit_many
from store.base import utcnow
from store.member_models import MemberInvitation, MemberRemovalRequest
from store.models import Member, MemberStatus, Organization, Role

TOKEN_LABEL = "member-invitation"
FIRST_KEY_DAYS = 90
COUNTED_STEPS = COUNTED
SUBJECT = "You are invited to an organization on the Org Lifecycle console"


class AlreadyMember(Conflict):
    slug = "already-a-member"
    title = "This address is already a member"


class InvitationOpen(Conflict):
    slug = "invitation-open"
    title = "This address has an open invitation"


class InvitationClosed(Conflict):
    slug = "invitation-closed"
    title = "The invitation was accepted or revoked"


class MemberBeingRemoved(Conflict):
    slug = "member-being-removed"
    title = "The member is being removed"


@dataclass(frozen=True)
class Invited:
    invitation: MemberInvitation
    message_key: str  # start its delivery once the transaction committed


@dataclass(frozen=True)
class Joined:
    member: Member
    key: CreatedKey | None  # the member's first team key, when asked for


@dataclass(frozen=True)
class RemovalRequested:
    request: MemberRemovalRequest
    created: bool  # False: a live request existed already and is returned instead


def token_hash(pepper: bytes, token: str) -> bytes:
    return keyed_hash(pepper, TOKEN_LABEL, token)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("role must be 'admin' or 'member'", field="role") from None


def _member_or_404(session: Session, org_id: str, member_id: str) -> Member:
    member = members.get_member(session, org_id, member_id, lock=True)
    if member is None:
        raise NotFound(f"member {member_id} does not exist in this organization")
    return member


def _invitation_or_404(session: Session, org_id: str, invitation_id: str) -> MemberInvitation:
    row = members.get_invitation(session, org_id, invitation_id, lock=True)
    if row is None:
        raise NotFound(f"invitation {invitation_id} does not exist in this organization")
    return row


def _queue_mail(session: Session, org: Organization, row: MemberInvitation, token: str,
                console_url: str) -> str:
    key = members.invitation_message_key(row.id, row.sends)
    link = f"{console_url}/console/invitation?org={org.id}&token={token}"
    days = max(1, round((row.expires_at - row.sent_at).total_seconds() / 86400))
    body = (f"You are invited to join {org.name} as {row.role} on the Org Lifecycle "
            f"console.\n\nAccept the invitation:\n{link}\n\nThe link works once, within "
            f"{days} day(s). Through the API: POST /orgs/{org.id}/invitations/accept with "
            f"this token:\n{token}\n\nIf you did not expect this mail, ignore it.")
    outbox.queue(session, idempotency_key=key, org_id=org.id, channel="email",
                 recipient=row.email, subject=SUBJECT, body=body)
    return key


def invite(session: Session, org_id: str, *, email: str, role: str, actor: str,
           pepper: bytes, ttl: timedelta, console_url: str) -> Invited:
    """Invite an address; one open invitation per address, none for a member."""
    org = writable_org(session, org_id)
    email = check_email(email)
    wanted = _role(role)
    now = utcnow()
    if members.member_by_email(session, org_id, email) is not None:
        raise AlreadyMember("this address is already a member of the organization",
                            field="email")
    existing = members.open_invitation(session, org_id, email, now)
    if existing is not None:
        raise InvitationOpen("this address has an open invitation: re-send it instead",
                             invitation_id=existing.id)
    members.scrub_expired_invitation_mail(session, org_id, now)
    token = new_secret()
    row = members.add_invitation(session, org_id=org_id, email=email, role=wanted,
                                 token_hash=token_hash(pepper, token), invited_by=actor,
                                 now=now, expires_at=now + ttl)
    key = _queue_mail(session, org, row, token, console_url)
    audit(session, org_id, actor, "member.invited", f"invitation:{row.id}", role=row.role,
          expires_at=row.expires_at.isoformat())
    return Invited(row, key)


def resend(session: Session, org_id: str, invitation_id: str, *, actor: str, pepper: bytes,
           ttl: timedelta, console_url: str) -> Invited:
    """A new mail with a new token and a fresh expiry; the previous link stops working."""
    org = writable_org(session, org_id)
    row = _invitation_or_404(session, org_id, invitation_id)
    if row.accepted_at is not None or row.revoked_at is not None:
        raise InvitationClosed(f"the invitation is {members.invitation_status(row, utcnow())}: "
                               "invite the address again instead", invitation_id=row.id)
    now = utcnow()
    members.scrub_invitation_mail(session, row.id)
    token = new_secret()
    row.token_hash = token_hash(pepper, token)
    row.sends += 1
    row.sent_at = now
    row.expires_at = now + ttl
    session.flush()
    key = _queue_mail(session, org, row, token, console_url)
    audit(session, org_id, actor, "member.invitation_resent", f"invitation:{row.id}",
          sends=row.sends, expires_at=row.expires_at.isoformat())
    return Invited(row, key)


def revoke(session: Session, org_id: str, invitation_id: str, *,
           actor: str) -> MemberInvitation:
    """Revoke an open invitation (again: no change); an accepted one is a 409."""
    writable_org(session, org_id)
    row = _invitation_or_404(session, org_id, invitation_id)
    if row.accepted_at is not None:
        raise InvitationClosed("the invitation was accepted: remove the member instead",
                               invitation_id=row.id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        members.scrub_invitation_mail(session, row.id)
        audit(session, org_id, actor, "member.invitation_revoked", f"invitation:{row.id}")
    return row


def accept(session: Session, org_id: str, token: str, *, name: str, pepper: bytes,
           with_key: bool, key_name: str = "default") -> Joined:
    """Consume the invitation once and make its member (and, when asked, their first key).

    A token of another org, or one used, revoked, replaced or expired, is refused the same
    way, without saying which: a token is the only credential its bearer has."""
    writable_org(session, org_id)
    if name:
        check_name(name)
    now = utcnow()
    row = members.consume_invitation(session, token_hash(pepper, token[:200]), org_id, now)
    if row is None:
        raise InvitationNotValid("the invitation is not valid for this organization: it was "
                                 "used, revoked, replaced or has expired")
    [member] = join(session, org_id, [NewMember(row.email, name, Role(row.role))],
                    actor=f"invitation:{row.id}", now=now)
    row.member_id = member.id
    members.scrub_invitation_mail(session, row.id)
    key = None
    if with_key:
        org = org_or_404(session, org_id)
        key = create_key(session, org_id, KeySpec(
            name=key_name, lifetime_days=min(FIRST_KEY_DAYS, org.max_key_lifetime_days),
            created_by=member.id), pepper=pepper, actor=f"member:{member.id}")
    return Joined(member, key)


@dataclass(frozen=True)
class NewMember:
    email: str
    name: str
    role: Role
    timezone: str = "UTC"


def join(session: Session, org_id: str, people: list[NewMember], *, actor: str,
         now: datetime | None = None) -> list[Member]:
    """Make active members of the org, each audited as joined: how an accepted invitation
    makes its member, and how `lifecycle seed` makes an org's members (without mail)."""
    emails = [person.email.strip().lower() for person in people]
    if len(set(emails)) < len(emails) or members.taken_emails(session, org_id, emails):
        raise AlreadyMember("this address is already a member of the organization")
    made = members.add_members(session, org_id, [(p.email, p.name, p.role, p.timezone)
                                                 for p in people], now=now or utcnow())
    audit_many(session, actor, "member.joined", [(org_id, f"member:{m.id}") for m in made],
               [{"role": m.role.value} for m in made])
    return made


def change_role(session: Session, org_id: str, member_id: str, role: str, *,
                actor: str) -> Member:
    org = writable_org(session, org_id)
    wanted = _role(role)
    member = _member_or_404(session, org_id, member_id)
    if member.id == org.admin_member_id:
        raise AdminImmutable("the admin account's role can never be changed")
    if member.status is not MemberStatus.ACTIVE:
        raise MemberBeingRemoved("the member is being removed")
    if member.role is not wanted:
        before = member.role
        member.role = wanted
        session.flush()
        audit(session, org_id, actor, "member.role_changed", f"member:{member.id}",
              before=before.value, after=wanted.value)
    return member


def request_removal(session: Session, org_id: str, member_id: str, *,
                    actor: str) -> RemovalRequested:
    """The member's live removal request, written now unless one exists already."""
    org = writable_org(session, org_id)
    member = _member_or_404(session, org_id, member_id)
    if member.id == org.admin_member_id:
        raise AdminImmutable("the admin account can never be removed")
    live = members.live_removal(session, member_id)
    if live is not None:
        return RemovalRequested(live, created=False)
    member.status = MemberStatus.REMOVING  # their team keys are refused from this commit on
    ended = console_auth.end_member_sessions(session, org_id, member_id)
    row = members.add_removal(session, org_id=org_id, member_id=member_id, requested_by=actor,
                              workflow_id=member_offboarding_workflow_id(member_id),
                              now=utcnow())
    audit(session, org_id, actor, "member.removal_requested", f"member:{member_id}",
          request_id=row.id, sessions_ended=ended)
    return RemovalRequested(row, created=True)


def list_members(session: Session, org_id: str, *, limit: int,
                 after: str = "") -> tuple[list[Member], str | None]:
    org_or_404(session, org_id)
    return members.list_members(session, org_id, limit=limit, after=after)


def list_invitations(session: Session, org_id: str, *, limit: int,
                     after: str = "") -> tuple[list[MemberInvitation], str | None]:
    org_or_404(session, org_id)
    return members.list_invitations(session, org_id, limit=limit, after=after)


def removal_status(session: Session, org_id: str,
                   member_id: str) -> tuple[MemberRemovalRequest, dict[str, int]]:
    """The member's latest removal request and the counts of the steps done so far."""
    org_or_404(session, org_id)
    row = members.latest_removal(session, org_id, member_id)
    if row is None:
        raise NotFound("no removal was requested for this member")
    prefix = offboarding_ledger_prefix(row.id)
    counts = {key.removeprefix(prefix): n
              for key, n in ledger.entries(session, org_id, prefix).items()}
    return row, counts
