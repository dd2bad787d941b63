"""Leaked keys reported by a secret scanner: revoked at once, the admin told, the scanner answered.

The scanner (GitHub's secret-scanning partner programme) found strings that look like our
keys in public code and asks, per string, whether it is a real key. Each string costs the same
work whatever it is: the checksum (`core.keyformat`), one lookup by the public prefix, one
keyed hash; so neither the answer nor its timing tells a random string from a key of a deleted
org. A string that is one of our stored keys is a `true_positive`; if it still works (not
revoked, not expired, its org not being deleted) it is revoked now: `revoked_at` set, the
`api_key.revoked` event with reason `leaked`, an audit event and a mail to the org admin.
A key of a frozen org is revoked too: cancelling the teardown must not bring a leaked key back.
Everything else is a `false_positive`. Everything happens in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core import keyformat
from core.cards import contains_card_number
from services import keys
from store import apikeys, orgs, outbox, webhooks
from store.audit import audit
from store.base import utcnow
from store.models import ApiKey, OrgStatus

TRUE_POSITIVE, FALSE_POSITIVE = "true_positive", "false_positive"
ACTOR = "secret-scanning"
MAIL_SUBJECT = "An API key of your organization was found in public and revoked"
URL_KEPT = 500


@dataclass(frozen=True)
class Finding:
    token: str
    type: str
    url: str
    source: str


@dataclass(frozen=True)
class Verdict:
    token_raw: str
    token_type: str
    label: str


def report(session: Session, findings: Sequence[Finding], *, pepper: bytes,
           now: datetime | None = None) -> list[Verdict]:
    """One verdict per finding, in order; live leaked keys revoked in this transaction."""
    now = now or utcnow()
    verdicts = []
    for finding in findings:
        key = _stored_key(session, finding.token, pepper)
        if key is not None:
            _revoke_if_live(session, key, finding, now)
        verdicts.append(Verdict(finding.token, finding.type,
                                TRUE_POSITIVE if key is not None else FALSE_POSITIVE))
    return verdicts


def _stored_key(session: Session, token: str, pepper: bytes) -> ApiKey | None:
    """The stored key `token` is, or None; the same lookup and hash whatever `token` is."""
    well_formed = keyformat.scope_of(token) is not None
    row = apikeys.key_by_prefix(session, token[:keyformat.PREFIX_LEN])
    stored = row.secret_hash if row is not None else bytes(32)
    matches = keyformat.matches(token, stored, pepper)
    return row if well_formed and matches and row is not None else None


def _shown(text: str) -> str:
    """A scanner-supplied text as audit and mail may keep it: never a card number or a key."""
    if contains_card_number(text) or keyformat.KEY_IN_TEXT.search(text):
        return "(withheld)"
    return text[:URL_KEPT]


def _revoke_if_live(session: Session, found: ApiKey, finding: Finding, now: datetime) -> None:
    org = orgs.lock_org(session, found.org_id)  # the org first, as every write does
    key = apikeys.get_key(session, found.org_id, found.id, lock=True)
    if (key is None or key.revoked_at is not None or key.expires_at <= now
            or org.status is OrgStatus.DELETING):
        return
    key.revoked_at = now
    keys.key_revoked(session, key, "leaked")
    where, source = _shown(finding.url), _shown(finding.source)
    audit(session, key.org_id, ACTOR, "api_key.revoked", f"key:{key.prefix}",
          reason="leaked", url=where, source=source)
    admin = orgs.admin_email(session, key.org_id)
    mail_key = f"leaked-key:{key.id}"
    if admin is None or outbox.find(session, mail_key) is not None:
        return
    outbox.queue(session, idempotency_key=mail_key, org_id=key.org_id, channel="email",
                 recipient=admin, subject=MAIL_SUBJECT,
                 body=(f"The API key {key.prefix}... (\"{key.name}\") of {org.name} was "
                       f"found in public ({source}: {where}) and has been revoked: requests "
                       "made with it are refused from now on. Create a new key, put it "
                       "where the old one was used, and remove the old one from the place "
                       "it was published."))
    session.info.setdefault(webhooks.QUEUED_INFO, []).append(mail_key)
