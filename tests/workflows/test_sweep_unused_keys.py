"""The org's unused-key policy through the real sweep: the real time-skipping Temporal server,
both databases, a real SMTP server and a real webhook receiver verifying every signature.

A key idle for all but the policy's last week gets one notice (mail to its creator and the
admins, `api_key.unused`), however many sweeps run; at the end of the policy it is revoked
once (audit, `api_key.revoked` with reason `unused`, mail); a key used recently is untouched.
Time is the sweep's `now` input, never a sleep.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core import standard_webhooks
from core.settings import Settings
from store.models import ApiKey, AuditEvent, Organization, Reminder
from tests.support.sweep_support import (
    Hooks,
    Inbox,
    Org,
    add_key,
    local_webhooks,
    make_org,
    run_sweep,
    smtp_server,
    sweep_worker,
    webhook_receiver,
)

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def mail(settings: Settings) -> Iterator[tuple[Inbox, Settings]]:
    with smtp_server() as (inbox, port):
        yield inbox, local_webhooks(settings, smtp_port=port)


def idle_key(sessions: sessionmaker[Session], org: Org, *, created: datetime,
             used: datetime | None, creator: str, name: str) -> str:
    """A live key far from expiry, made at `created` and last used at `used` (None: never)."""
    key = add_key(sessions, org, T0 + 400 * DAY, creator=creator, name=name)
    with sessions.begin() as session:
        session.execute(update(ApiKey).where(ApiKey.id == key)
                        .values(created_at=created, last_used_at=used))
    return key


def set_policy(sessions: sessionmaker[Session], org: Org, days: int | None) -> None:
    with sessions.begin() as session:
        session.execute(update(Organization).where(Organization.id == org.id)
                        .values(revoke_unused_keys_after_days=days))


def revoked_at(sessions: sessionmaker[Session], key: str) -> datetime | None:
    with sessions() as session:
        return session.get_one(ApiKey, key).revoked_at


async def test_unused_keys_get_one_notice_then_one_revocation(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    hooks = Hooks(secret=standard_webhooks.new_secret())
    with webhook_receiver(hooks) as url:
        org = make_org(session_factory, settings, name="Acme", webhook=(url, hooks.secret))
        other = make_org(session_factory, settings)  # no policy: its idle key stays
        set_policy(session_factory, org, 30)
        creator = org.others[0]
        # never used, made 25 days ago: the notice (revocation in 5 days)
        quiet = idle_key(session_factory, org, created=T0 - 25 * DAY, used=None,
                         creator=creator, name="quiet")
        # last used 40 days ago: revoked at the first sweep, no "will be revoked" before
        stale = idle_key(session_factory, org, created=T0 - 90 * DAY, used=T0 - 40 * DAY,
                         creator=creator, name="stale")
        # made long ago but used yesterday: untouched
        busy = idle_key(session_factory, org, created=T0 - 90 * DAY, used=T0 - DAY,
                        creator=creator, name="busy")
        elsewhere = idle_key(session_factory, other, created=T0 - 90 * DAY, used=None,
                             creator=other.admin, name="elsewhere")
        client = time_skipping_env.client
        async with sweep_worker(client, settings, session_factory) as queue:
            first = await run_sweep(client, queue, T0, page_size=1)  # a page per key
            await run_sweep(client, queue, T0 + timedelta(hours=1))
            await run_sweep(client, queue, T0 + 2 * DAY)
            assert revoked_at(session_factory, quiet) is None
            last = await run_sweep(client, queue, T0 + 5 * DAY + timedelta(hours=1))
            await run_sweep(client, queue, T0 + 6 * DAY)
    assert first.totals.keys_unused_noticed == 1 and first.totals.keys_revoked_unused == 1
    assert last.totals.keys_revoked_unused == 1
    assert revoked_at(session_factory, stale) == T0
    assert revoked_at(session_factory, quiet) == T0 + 5 * DAY + timedelta(hours=1)
    assert revoked_at(session_factory, busy) is None
    assert revoked_at(session_factory, elsewhere) is None
    with session_factory() as session:
        ledger = Counter(session.execute(select(Reminder.subject_id, Reminder.window,
                                                Reminder.status)).all())
        audits = session.execute(select(AuditEvent.target, AuditEvent.detail).where(
            AuditEvent.action == "api_key.revoked")).all()
        prefixes = dict(session.execute(select(ApiKey.id, ApiKey.prefix)).all())
    assert ledger == Counter({(quiet, "unused", "sent"): 1,
                              (quiet, "unused_revoked", "sent"): 1,
                              (stale, "unused", "superseded"): 1,
                              (stale, "unused_revoked", "sent"): 1})
    assert sorted(t for t, _ in audits) == sorted(
        [f"key:{prefixes[quiet]}", f"key:{prefixes[stale]}"])
    assert all(d["reason"] == "unused" and d["unused_days"] == 30 for _, d in audits)
    # mails: the creator and the admin each get the first digest (stale revoked, quiet
    # noticed) and the last (quiet revoked); nobody hears of the busy key
    for person in (creator, org.admin):
        mine = inbox.to(person)
        assert len(mine) == 2, [m.subject for m in mine]
        assert "1 unused, to be revoked" in mine[0].subject
        assert "1 revoked as unused" in mine[0].subject
        assert '"quiet"' in mine[0].body and "will be revoked 2027-03-06 12:00 UTC" in mine[0].body
        assert '"stale"' in mine[0].body and "[REVOKED: unused]" in mine[0].body
        assert '"quiet"' in mine[1].body and "[REVOKED: unused]" in mine[1].body
        assert all('"busy"' not in m.body for m in mine)
    assert inbox.to(other.admin) == []
    assert len(inbox.all()) == len(inbox.unique()) == 4
    # webhooks: one event each, verified by the reference library
    assert hooks.bad_signatures == 0
    got = Counter((e["type"], e["data"]["key_id"], e["data"].get("reason"))
                  for e in hooks.unique().values())
    assert got == Counter({("api_key.unused", quiet, None): 1,
                           ("api_key.revoked", stale, "unused"): 1,
                           ("api_key.revoked", quiet, "unused"): 1})
    notice = next(e for e in hooks.unique().values() if e["type"] == "api_key.unused")
    assert notice["data"]["unused_since"] == (T0 - 25 * DAY).isoformat()
    assert notice["data"]["revoke_at"] == (T0 + 5 * DAY).isoformat()


async def test_a_key_used_after_its_notice_starts_a_new_idle_period(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        mail: tuple[Inbox, Settings]) -> None:
    inbox, settings = mail
    org = make_org(session_factory, settings)
    set_policy(session_factory, org, 10)
    key = idle_key(session_factory, org, created=T0 - 4 * DAY, used=None, creator=org.admin,
                   name="revived")
    client = time_skipping_env.client
    async with sweep_worker(client, settings, session_factory) as queue:
        await run_sweep(client, queue, T0)  # idle 4 of 10 days: the notice
        with session_factory.begin() as session:  # used: the idle period starts again
            session.execute(update(ApiKey).where(ApiKey.id == key)
                            .values(last_used_at=T0 + DAY))
        await run_sweep(client, queue, T0 + 2 * DAY)  # idle 1 day since the use: nothing
        assert len(inbox.to(org.admin)) == 1
        await run_sweep(client, queue, T0 + 5 * DAY)  # idle 4 days again: the second notice
        await run_sweep(client, queue, T0 + 6 * DAY)  # and only one
        set_policy(session_factory, org, None)  # turned off: never revoked
        await run_sweep(client, queue, T0 + 30 * DAY)
    assert revoked_at(session_factory, key) is None
    with session_factory() as session:
        notices = session.execute(select(Reminder.due_at, Reminder.status).where(
            Reminder.subject_id == key).order_by(Reminder.due_at)).all()
    assert [tuple(n) for n in notices] == [(T0 - 4 * DAY, "sent"), (T0 + DAY, "sent")]
    assert len(inbox.to(org.admin)) == 2
