"""Teardown activities are idempotent: a retry after a crash at any point gives the same end state
and the same counts. Run directly in Temporal's ActivityEnvironment on both databases."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.billing import DatabaseBillingGateway
from activities.certificates import Issuer
from activities.purge import PurgeActivities
from activities.teardown import TeardownActivities
from contracts.teardown import (
    CertificateInput,
    Notice,
    OrgStep,
    ProjectStep,
    SubscriptionStep,
    teardown_workflow_id,
)
from core.settings import Settings
from core.signing import Signer, generate_private_key, key_set, verify
from services.seeding import OrgShape, seed_org
from services.teardown import record_request
from store.models import DatasetRecord, Organization, OrgStatus, OutboxMessage, Subscription
from store.plan import owned_counts
from store.teardown import certificate_of
from store.webhook_models import WebhookEvent
from tests.support.sweep_support import add_endpoint

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=11)


class Crash(Exception):
    """Stands in for SIGKILL: raised from the heartbeat after a committed batch."""


def _claimable(sessions: sessionmaker[Session], org_id: str) -> OrgStep:
    """A written request for the org's teardown, and the step of the run that will claim it."""
    with sessions.begin() as session:
        row = record_request(session, org_id, actor="member:x", grace_seconds=0)
        request_id = row.id
    return OrgStep(org_id, teardown_workflow_id(org_id), "", request_id, "run-1")


def _acts(sessions: sessionmaker[Session]) -> tuple[TeardownActivities, PurgeActivities]:
    """The activities, the purge heartbeating after every batch (the crash test counts them)."""
    return (TeardownActivities(sessions, DatabaseBillingGateway()),
            PurgeActivities(sessions, heartbeat_every_s=0))


def test_every_step_twice_gives_the_same_counts(session_factory: sessionmaker[Session],
                                               settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
    teardown, purge = _acts(session_factory)
    env = ActivityEnvironment()
    step = _claimable(session_factory, org.org_id)
    wid = step.workflow_id

    first = env.run(teardown.freeze_org, step)
    assert env.run(teardown.freeze_org, step) == first
    assert first.snapshot == org.counts
    env.run(teardown.begin_destruction, step)
    env.run(teardown.begin_destruction, step)

    subs = env.run(teardown.list_subscriptions, step)
    for sub_id in subs["job_plan"] + subs["workspace_capacity"]:
        sub_step = SubscriptionStep(org.org_id, wid, sub_id, step.request_id, step.run_id)
        assert env.run(teardown.cancel_subscription, sub_step).count == 1
        assert env.run(teardown.cancel_subscription, sub_step).count == 1
    per_project = SHAPE.datasets_per_project * SHAPE.records_per_dataset
    # the first project half by half (each half is idempotent on its own, which a retry of
    # purge_project relies on), the second in one activity
    halves, whole = (ProjectStep(org.org_id, p, batch_size=4,
                                 teardown_request_id=step.request_id) for p in org.project_ids)
    assert env.run(purge.purge_project_records, halves) == per_project
    assert env.run(purge.purge_project_records, halves) == per_project
    assert env.run(purge.delete_project, halves) == env.run(purge.delete_project, halves)
    purged = env.run(purge.purge_project, whole)
    assert (purged.records, purged.datasets) == (per_project, SHAPE.datasets_per_project)
    assert env.run(purge.purge_project, whole) == purged
    for method in (teardown.revoke_api_keys, teardown.remove_members,
                   teardown.delete_payment_method, teardown.erase_usage_and_billing,
                   teardown.delete_org):
        once = env.run(method, step)
        assert env.run(method, step) == once, method.__name__
    assert set(env.run(teardown.verify_nothing_left, step).values()) == {0}
    cert = CertificateInput(org.org_id, wid, "run-1", first.org_name_hash, step.request_id,
                            [], org.counts, {}, claim_run_id=step.run_id)
    assert env.run(teardown.write_certificate, cert) == env.run(teardown.write_certificate,
                                                                cert)


def test_the_certificate_is_signed_and_verifies(session_factory: sessionmaker[Session],
                                                settings: Settings) -> None:
    signer = Signer.parse(generate_private_key())
    teardown = TeardownActivities(session_factory, DatabaseBillingGateway(),
                                  issuer=Issuer(signer))
    steps = [{"name": "freeze", "status": "done", "done": 1, "total": 1,
              "started_at": "2026-01-01T00:00:00+00:00",
              "finished_at": "2026-01-01T00:00:01+00:00"}]
    with session_factory.begin() as session:
        org = seed_org(session, OrgShape(projects=0), settings.pepper_bytes)
    step = _claimable(session_factory, org.org_id)
    env = ActivityEnvironment()
    env.run(teardown.freeze_org, step)
    cert = CertificateInput(org.org_id, step.workflow_id, "run-2", "ab" * 32, step.request_id,
                            steps, {"api_keys": 3}, {"api_keys": 0}, claim_run_id=step.run_id)
    cert_id = env.run(teardown.write_certificate, cert)
    assert env.run(teardown.write_certificate, cert) == cert_id
    with session_factory() as session:
        row = certificate_of(session, org.org_id)
    assert row is not None and row.signed is not None
    body, kid = verify(row.signed.encode(), key_set([signer.public]))
    assert kid == signer.public.key_id
    assert (body["certificate_id"], body["org_id"], body["run_id"]) == (cert_id, org.org_id,
                                                                         "run-2")
    assert body["requested_by"] == "member:x"
    assert body["steps"] == steps and body["counts"] == {"api_keys": 3}
    assert body["verification"] == {"passed": True, "leftover_rows": {"api_keys": 0}}


@pytest.mark.parametrize("resume_from", [-1, 0], ids=["last-beat", "older-beat"])
def test_purge_resumes_from_heartbeat_with_exact_count(session_factory: sessionmaker[Session],
                                                       settings: Settings,
                                                       resume_from: int) -> None:
    """From the last heartbeat, or from an older one (heartbeats are throttled, so the last
    one sent may lag the committed batches): either way no record is counted twice."""
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
    teardown, purge = _acts(session_factory)
    env = ActivityEnvironment()
    step = _claimable(session_factory, org.org_id)
    env.run(teardown.freeze_org, step)
    env.run(teardown.begin_destruction, step)
    project = ProjectStep(org.org_id, org.project_ids[0], batch_size=3,
                          teardown_request_id=step.request_id)

    beats: list[object] = []

    def crash_on_third(*details: object) -> None:
        beats.append(details[0])
        if len(beats) == 3:
            raise Crash

    env.on_heartbeat = crash_on_third
    with pytest.raises(Crash):
        env.run(purge.purge_project_records, project)
    with session_factory() as session:
        left = session.scalar(select(func.count()).select_from(DatasetRecord))
    total = 2 * SHAPE.projects * SHAPE.records_per_dataset
    assert left == total - 9  # three batches of three committed before the "kill"

    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, heartbeat_details=[beats[resume_from]],
                                     attempt=2)
    assert retry.run(purge.purge_project_records, project) == 2 * SHAPE.records_per_dataset


def test_destructive_steps_refuse_an_active_org(session_factory: sessionmaker[Session],
                                                settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
    teardown, purge = _acts(session_factory)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as refused:
        env.run(teardown.delete_org, OrgStep(org.org_id, "wf-3"))
    assert refused.value.non_retryable and refused.value.type == "OrgNotFrozen"
    with pytest.raises(ApplicationError):
        env.run(purge.purge_project_records, ProjectStep(org.org_id, org.project_ids[0]))
    with session_factory() as session:
        assert owned_counts(session, org.org_id) == org.counts


def test_verifier_names_leftovers(session_factory: sessionmaker[Session],
                                  settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, OrgShape(projects=0, job_plans=1, workspace_capacity=False),
                       settings.pepper_bytes)
        session.execute(insert(Subscription).values(id="f" * 32, org_id=org.org_id,
                                                    kind="job_plan", plan="late"))
    teardown, _ = _acts(session_factory)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as failed:
        env.run(teardown.verify_nothing_left, OrgStep(org.org_id, "wf-4"))
    assert failed.value.type == "VerificationFailed"
    assert "subscriptions=2" in str(failed.value)
    with session_factory() as session:
        org_row = session.get(Organization, org.org_id)
        assert org_row is not None and org_row.status is OrgStatus.ACTIVE


def test_failed_notice_emits_one_event_and_completed_none(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    with session_factory.begin() as session:
        org = seed_org(session, SHAPE, settings.pepper_bytes)
    endpoint = add_endpoint(session_factory, settings, org.org_id, "https://hooks.example/x")
    teardown, _ = _acts(session_factory)
    env = ActivityEnvironment()
    step = _claimable(session_factory, org.org_id)
    env.run(teardown.freeze_org, step)
    for kind in ("failed", "failed", "completed"):
        env.run(teardown.notify_admin, Notice(org.org_id, step.workflow_id, kind,
                                              "purge_project: boom", step.run_id,
                                              step.request_id))
    with session_factory() as session:
        events = session.scalars(select(WebhookEvent).where(
            WebhookEvent.org_id == org.org_id)).all()
        queued = session.scalars(select(OutboxMessage.recipient).where(
            OutboxMessage.channel == "webhook", OutboxMessage.org_id == org.org_id)).all()
    assert [e.type for e in events] == ["org.teardown.failed"]
    assert json.loads(events[0].body)["data"]["reason"] == "purge_project: boom"
    assert list(queued) == [endpoint]
