"""Many processes of the engine on one Temporal service and one database, under faults.

Two API replicas (each its own uvicorn process) and three `lifecycle worker` processes share a
dev server (persistent SQLite file) and the run's PostgreSQL database; the workers mail a real
SMTP server. Teardowns are started through both replicas and the key-expiry sweep is triggered
through both, while clients load both replicas with reads and writes of a live org. Mid-purge,
one worker is SIGKILLed, another gets SIGTERM (it must stop by itself within its shutdown
grace, handing its activities back) and a replacement starts; one API replica is SIGKILLed
while its clients' requests are in flight.

Then: every teardown completed with a certificate equal to the org's seeded rows; every due
reminder was announced exactly once (what is due comes from `sweep_oracle`, keys seeded into
known windows); the surviving replica answered every request, never with a 5xx; and a scan
walking the live schema's foreign keys finds nothing of the deleted orgs.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from contracts.teardown import COMPLETED
from core.settings import Settings
from core.temporal import wait_for_poller, wait_until_serving
from services.seeding import OrgShape, SeededOrg, seed_org
from store.models import (
    ApiKey,
    Dataset,
    DatasetRecord,
    DeletionCertificate,
    OutboxMessage,
    Reminder,
)
from tests.chaos.support import SCALE, ApiProcess, DevServer, WorkerProcess
from tests.chaos.sweep_oracle import SeededKey, announcements, seed
from tests.support.api_support import OPERATOR_TOKEN, bearer, seed_with_keys
from tests.support.leftovers import fk_leftovers
from tests.support.sweep_support import Inbox, smtp_server
from tests.support.teardown_support import eventually
from workflows.teardown import OrgTeardownWorkflow

SHAPE = OrgShape(projects=4, datasets_per_project=2, records_per_dataset=2_000)
TEARDOWNS = 3 * SCALE
SHUTDOWN_GRACE_S = 2
OPERATOR = bearer(OPERATOR_TOKEN)


@dataclass
class Load:
    """Answers a load client saw from one replica: status codes, and transport failures."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


async def _load(base: str, org_id: str, key: str, stop: asyncio.Event, load: Load) -> None:
    """Reads and writes of a live org, in a loop, until `stop` is set."""
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as http:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if i % 3 == 0:
                    response = await http.patch(f"/orgs/{org_id}", json={"description": f"d{i}"})
                else:
                    response = await http.get(f"/orgs/{org_id}/keys")
            except httpx.TransportError as exc:
                load.failures[type(exc).__name__] += 1
                await asyncio.sleep(0.05)  # pace a client whose replica is gone
                continue
            load.statuses[response.status_code] += 1


def _records_left(sessions: sessionmaker[Session], org_ids: list[str]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DatasetRecord).join(Dataset)
                                  .where(Dataset.org_id.in_(org_ids))) or 0)


def _certificates(sessions: sessionmaker[Session], org_ids: list[str]) -> dict[str, dict[str, int]]:
    with sessions() as session:
        return {c.org_id: c.counts for c in session.scalars(
            select(DeletionCertificate).where(DeletionCertificate.org_id.in_(org_ids)))}


def _sweep_state(sessions: sessionmaker[Session], keys: list[SeededKey], inbox: Inbox
                 ) -> tuple[dict[tuple[str, str], str], set[tuple[str, str, str, str]],
                            dict[tuple[str, str], int]]:
    """The ledger rows of `keys`, the outbox messages not sent (yet), and the distinct
    Message-IDs each (recipient, key name) of `keys` was announced in."""
    ids = {k.id for k in keys}
    names = {k.name for k in keys}
    with sessions() as session:
        ledger = {(r.subject_id, r.window): r.status for r in session.execute(
            select(Reminder.subject_id, Reminder.window, Reminder.status)) if r.subject_id in ids}
        outbox = {(m.status, m.channel, m.subject, m.last_error or "")
                  for m in session.scalars(select(OutboxMessage))
                  if m.status != "sent"}  # what is still owed or could never be sent
    seen = {pair: len({mid for mid, _ in found}) for pair, found in
            announcements(inbox.all()).items() if pair[1] in names}
    return ledger, outbox, seen


async def _trigger(base: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=OPERATOR) as http:
        response = await http.post("/ops/schedules/key-expiry-sweep/trigger")
    return response.status_code


async def _start_teardown(base: str, org: SeededOrg) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        return await http.post(f"/orgs/{org.org_id}/teardown", headers=bearer(org.admin_key),
                               json={"confirm_name": org.name, "grace_seconds": 0})


async def _up(base: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            return (await http.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def test_two_replicas_three_workers_under_faults(
        pg_sessions: sessionmaker[Session], postgres_url: str, tmp_path: Path) -> None:
    seed_value = random.randrange(1_000_000)
    rng = random.Random(seed_value)
    settings = Settings(database_url=postgres_url, data_dir=tmp_path)
    with pg_sessions.begin() as session:
        orgs = [seed_org(session, SHAPE, settings.pepper_bytes, rng=rng)
                for _ in range(TEARDOWNS)]
        # None of their keys is due, so the sweep running beside their teardowns adds no
        # reminder row to them and each certificate must equal exactly what was seeded.
        session.execute(update(ApiKey).where(ApiKey.org_id.in_([o.org_id for o in orgs]))
                        .values(expires_at=datetime.now(UTC) + timedelta(days=200)))
    live = seed_with_keys(pg_sessions, settings)
    due, frozen = seed(pg_sessions, settings, rng, datetime.now(UTC), 2 * SCALE, keys_per_org=8)
    owed = {pair: status for k in due for pair, status in k.ledger().items()}
    expected = {(to, k.name) for k in due if k.window for to in k.recipients}
    print(f"scale-out seed={seed_value} teardowns={TEARDOWNS} sweep keys={len(due)}")

    server = DevServer(tmp_path / "temporal.db")
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    server.start()
    with smtp_server() as (inbox, smtp_port):
        env = {"LIFECYCLE_SMTP_PORT": str(smtp_port), "LIFECYCLE_PURGE_BATCH_SIZE": "100",
               "LIFECYCLE_PURGE_CONCURRENCY": "2", "LIFECYCLE_OPERATOR_TOKEN": OPERATOR_TOKEN,
               "LIFECYCLE_WORKER_SHUTDOWN_GRACE_SECONDS": str(SHUTDOWN_GRACE_S)}
        workers = [WorkerProcess(postgres_url, server.address, queue, tmp_path, env=env,
                                 log_path=tmp_path / f"worker-{i}.log") for i in range(4)]
        replicas = [ApiProcess(postgres_url, server.address, queue, tmp_path, env=env,
                               log_path=tmp_path / f"api-{i}.log") for i in range(2)]
        survivor, doomed = replicas
        everything: list[WorkerProcess | ApiProcess] = [*replicas, *workers]
        stop = asyncio.Event()
        loads = [Load(), Load()]
        try:
            client: Client = await wait_until_serving(server.address, "default", deadline_s=60)
            for process in everything[:5]:  # the replicas and three workers
                process.start()
            await wait_for_poller(client, queue, deadline_s=60)
            for replica in replicas:
                await eventually(lambda r=replica: _up(r.base_url), bool, 60)  # type: ignore[misc]
            clients = [asyncio.ensure_future(_load(r.base_url, live.org.org_id, live.admin, stop,
                                                   load))
                       for r, load in ((survivor, loads[0]), (doomed, loads[1])) for _ in (0, 1)]
            started = await asyncio.gather(*(_start_teardown(replicas[i % 2].base_url, org)
                                             for i, org in enumerate(orgs)))
            assert [r.status_code for r in started] == [202] * TEARDOWNS, \
                [r.text for r in started]
            # the schedule exists once a worker has ensured it
            for replica in replicas:
                await eventually(lambda r=replica: _trigger(r.base_url),  # type: ignore[misc]
                                 lambda s: 200 <= s < 300, 30)

            ids = [o.org_id for o in orgs]
            total = sum(o.counts["dataset_records"] for o in orgs)
            probe = lambda: asyncio.to_thread(_records_left, pg_sessions, ids)  # noqa: E731
            left_at_kill = await eventually(probe, lambda n: n < total * 0.85, 60)
            workers[0].kill()
            doomed.kill()  # mid-request: its four clients are looping
            left_at_term = await eventually(probe, lambda n: n < total * 0.6, 60)
            workers[3].start()  # the replacement
            term_sent = time.monotonic()
            await asyncio.to_thread(workers[1].stop)  # SIGTERM; fails if it does not end
            term_took_s = time.monotonic() - term_sent
            assert workers[1].process is not None
            term_status = workers[1].process.returncode

            certificates = await eventually(
                lambda: asyncio.to_thread(_certificates, pg_sessions, ids),
                lambda c: len(c) == TEARDOWNS, 180)
            results = [await client.get_workflow_handle_for(
                OrgTeardownWorkflow.run, f"org-teardown-{o.org_id}").result() for o in orgs]
            ledger, _outbox, seen = await eventually(
                lambda: asyncio.to_thread(_sweep_state, pg_sessions, due + frozen, inbox),
                lambda s: s[0] == owed and not s[1] and set(s[2]) >= expected, 150)
            stop.set()
            await asyncio.gather(*clients)
        finally:
            stop.set()
            for process in everything:
                process.stop()
            server.stop()

    assert 0 < left_at_term < left_at_kill < total, "a fault struck outside the purge"
    assert term_status == 0, "the SIGTERMed worker did not end by itself"
    term_log = (tmp_path / "worker-1.log").read_text()
    assert "stop requested: finishing running activities" in term_log, term_log[-2000:]
    assert "worker stopped" in term_log and "Traceback" not in term_log, term_log[-2000:]
    assert [r.status for r in results] == [COMPLETED] * TEARDOWNS
    for org in orgs:
        assert certificates[org.org_id] == org.counts, org.org_id
        assert fk_leftovers(pg_sessions.kw["bind"], org.org_id) == {}, org.org_id
    assert ledger == owed
    assert set(seen) == expected and set(seen.values()) == {1}, "a reminder lost or repeated"
    assert not loads[0].failures and all(s < 500 for s in loads[0].statuses), loads[0]
    assert loads[0].statuses, "the surviving replica answered nothing"
    assert all(s < 500 for s in loads[1].statuses), loads[1]
    assert loads[1].failures, "the killed replica's clients saw nothing of the kill"
    print(f"scale-out seed={seed_value}: SIGKILL worker at {left_at_kill}/{total} records "
          f"left, SIGTERM worker at {left_at_term} (exit {term_status} after "
          f"{term_took_s:.1f} s, grace {SHUTDOWN_GRACE_S} s); {TEARDOWNS} "
          f"certificates exact; {len(expected)} reminders once each; survivor answered "
          f"{dict(loads[0].statuses)}; killed replica's clients: {dict(loads[1].statuses)} "
          f"then {dict(loads[1].failures)}")
