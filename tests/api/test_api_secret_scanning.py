"""The secret-scanning partner endpoint, signed with a locally generated ECDSA P-256 key pair:
a leaked live key is revoked, its admin mailed and `api_key.revoked` (reason `leaked`)
delivered, verified by the reference `standardwebhooks` package; a bad signature revokes
nothing; strings that are not keys we hold are answered alike, with the same work."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from core import keyformat, secret_scanning, standard_webhooks
from core.settings import Settings
from services import secret_scanning as service
from store import apikeys
from store.base import utcnow
from store.models import ApiKey, AuditEvent, OutboxMessage
from tests.support.api_support import api_client, api_settings, bearer, seed_with_keys
from tests.support.db_snapshot import changed, fingerprint
from tests.support.sweep_support import (
    Hooks,
    add_endpoint,
    delivery_worker,
    local_webhooks,
    smtp_server,
    webhook_receiver,
)
from tests.support.teardown_support import eventually

PATH = "/secret-scanning/github"
KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"


def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, pem.decode()


def signed(private: ec.EllipticCurvePrivateKey, body: bytes,
           key_id: str = KEY_ID) -> dict[str, str]:
    signature = private.sign(body, ec.ECDSA(hashes.SHA256()))
    return {"content-type": "application/json", secret_scanning.KEY_ID_HEADER: key_id,
            secret_scanning.SIGNATURE_HEADER: base64.b64encode(signature).decode()}


def findings(*tokens: str) -> bytes:
    return json.dumps([{"token": t, "type": "lifecycle_team_key",
                        "url": "https://github.com/octo/app/blob/main/.env",
                        "source": "content"} for t in tokens]).encode()


async def _status(client: httpx.AsyncClient, org_id: str, key: str) -> int:
    return (await client.get(f"/orgs/{org_id}", headers=bearer(key))).status_code


async def test_a_leaked_live_key_is_revoked_the_admin_mailed_and_the_event_delivered(
        time_skipping_env: WorkflowEnvironment, session_factory: sessionmaker[Session],
        settings: Settings) -> None:
    private, pem = key_pair()
    hooks = Hooks(secret=standard_webhooks.new_secret())
    org = seed_with_keys(session_factory, settings)
    org_id = org.org.org_id
    random_text = "olt_" + "x" * 49
    with smtp_server() as (inbox, port), webhook_receiver(hooks) as url:
        settings = api_settings(local_webhooks(
            settings, smtp_port=port, task_queue=f"leak-{uuid.uuid4().hex[:8]}",
            secret_scanning_public_keys={KEY_ID: pem}))
        add_endpoint(session_factory, settings, org_id, url, hooks.secret, ["api_key.revoked"])
        body = findings(org.member, random_text, org.revoked)
        async with delivery_worker(time_skipping_env.client, settings, session_factory), \
                api_client(settings, time_skipping_env.client) as client:
            assert await _status(client, org_id, org.member) == 200
            answered = await client.post(PATH, content=body, headers=signed(private, body))
            again = await client.post(PATH, content=body, headers=signed(private, body))
            after = await _status(client, org_id, org.member)
            admin_still = await _status(client, org_id, org.admin)
            events = await eventually(lambda: _unique(hooks), lambda got: len(got) >= 1)
            mails = await eventually(lambda: _mails(inbox), lambda got: len(got) >= 1)
    assert answered.status_code == 200, answered.text
    assert answered.json() == again.json() == [
        {"token_raw": org.member, "token_type": "lifecycle_team_key", "label": "true_positive"},
        {"token_raw": random_text, "token_type": "lifecycle_team_key",
         "label": "false_positive"},
        {"token_raw": org.revoked, "token_type": "lifecycle_team_key",
         "label": "true_positive"}]  # a key we hold, already revoked: nothing more to do
    assert after == 401 and admin_still == 200
    assert hooks.bad_signatures == 0
    (revoked,) = events
    assert revoked["type"] == "api_key.revoked" and revoked["data"]["reason"] == "leaked"
    assert revoked["data"]["prefix"] == org.member[:keyformat.PREFIX_LEN]
    (mail,) = mails
    assert mail.subject == service.MAIL_SUBJECT and mail.to == (org.org.admin_email,)
    assert org.member not in mail.body and org.member[:keyformat.PREFIX_LEN] in mail.body
    with session_factory() as session:
        audits = session.scalars(select(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.actor == service.ACTOR)).all()
        mailed = session.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key.like("leaked-key:%"))).all()
    assert [(a.action, a.target, a.detail["reason"]) for a in audits] == [
        ("api_key.revoked", f"key:{org.member[:keyformat.PREFIX_LEN]}", "leaked")]
    assert len(mailed) == 1 and org.member not in str(audits[0].detail)


async def _unique(hooks: Hooks) -> list[dict[str, Any]]:
    return list(hooks.unique().values())


async def _mails(inbox: Any) -> list[Any]:
    with inbox.lock:
        return list(inbox.mails)


async def test_a_bad_signature_is_401_and_revokes_nothing(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    private, pem = key_pair()
    stranger, _ = key_pair()
    org = seed_with_keys(session_factory, settings)
    body = findings(org.member)
    good = signed(private, body)
    tries = [
        signed(stranger, body),  # another key's signature
        signed(private, body, key_id="unknown"),  # a key id we were not given
        {**good, secret_scanning.SIGNATURE_HEADER: "not base64!"},
        {"content-type": "application/json"},  # no signature at all
    ]
    settings = api_settings(settings, secret_scanning_public_keys={KEY_ID: pem})
    before = fingerprint(session_factory)
    async with api_client(settings) as client:
        refused = [await client.post(PATH, content=body, headers=headers) for headers in tries]
        tampered = await client.post(PATH, content=findings(org.admin), headers=good)
        after = fingerprint(session_factory)
        alive = await _status(client, org.org.org_id, org.member)
    assert [r.status_code for r in [*refused, tampered]] == [401] * 5
    assert all(r.headers["content-type"] == "application/problem+json"
               for r in [*refused, tampered])
    assert changed(before, after) == []
    assert alive == 200


def test_strings_that_are_not_keys_we_hold_are_answered_alike_with_the_same_work(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    org = seed_with_keys(session_factory, settings)
    pepper = settings.pepper_bytes
    never_stored = keyformat.generate("team", pepper).secret  # a valid checksum, no row
    gone = org.project  # a key whose row is deleted, as a deleted org's keys are
    with session_factory.begin() as session:
        row = session.scalars(select(ApiKey).where(
            ApiKey.prefix == gone[:keyformat.PREFIX_LEN])).one()
        apikeys.delete_keys(session, [row], "test", utcnow())
    strangers = {"random": "not a key at all", "checksum": never_stored, "deleted": gone,
                 "bad checksum": org.member[:-1] + ("0" if org.member[-1] != "0" else "1")}
    statements: dict[str, int] = {}
    answers: dict[str, dict[str, str]] = {}
    for name, token in strangers.items():
        with session_factory.begin() as session:
            count = [0]

            def counted(*_: Any, count: list[int] = count) -> None:
                count[0] += 1

            engine = session.get_bind()
            event.listen(engine, "before_cursor_execute", counted)
            try:
                (verdict,) = service.report(session, [service.Finding(token, "t", "", "")],
                                            pepper=pepper)
            finally:
                event.remove(engine, "before_cursor_execute", counted)
            statements[name] = count[0]
            answers[name] = {"token_type": verdict.token_type, "label": verdict.label}
    assert set(statements.values()) == {1}, statements  # one lookup each, whatever it is
    assert all(a == {"token_type": "t", "label": "false_positive"} for a in answers.values())
    with session_factory() as session:
        member_key = session.scalars(select(ApiKey).where(
            ApiKey.prefix == org.member[:keyformat.PREFIX_LEN])).one()
    assert member_key.revoked_at is None  # a wrong checksum revokes nothing
