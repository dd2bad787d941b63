"""The teardown's objects phase: an org's dataset files deleted by the engine, then the same
keys deleted by a plain `DeleteObjects` loop, in one run against one SeaweedFS.

The engine side is the whole teardown of an org that holds little but files (its freeze counts
the objects, one `purge_target` per project notes each page in the ledger before deleting it,
the verifier lists the prefix again), so it shows what the exact counts and the proof cost
over the bare deletes: the baseline lists the prefix 1,000 keys at a time and deletes each
page with one call, counting nothing and proving nothing.
"""

from __future__ import annotations

import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.common import dev_server, say, wait_for_pollers, worker_process
from clients.teardown import start_teardown
from contracts.teardown import COMPLETED
from core import seaweed
from core.settings import Settings
from services.seeding import OrgShape, seed_org
from services.teardown import recorded_input
from store.models import Dataset, DeletionCertificate
from store.objects import ObjectStore, configured_store, dataset_prefix, org_prefix

PROJECTS = 20
OBJECT_BYTES = 256


def put_objects(store: ObjectStore, sessions: sessionmaker[Session], org_id: str,
                count: int) -> list[str]:
    """`count` small objects spread over the org's datasets, put 16 at a time; their keys."""
    with sessions() as session:
        datasets = [(pid, did) for pid, did in session.execute(
            select(Dataset.project_id, Dataset.id).where(Dataset.org_id == org_id))]
    keys = [dataset_prefix(org_id, *datasets[i % len(datasets)]) + f"part-{i:07d}.bin"
            for i in range(count)]
    put_again(store, keys)
    return keys


def put_again(store: ObjectStore, keys: list[str]) -> None:
    def put(key: str) -> None:
        store.put(key, io.BytesIO(b"o" * OBJECT_BYTES), OBJECT_BYTES,
                  "application/octet-stream")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, keys))


def _seconds(started: str, finished: str) -> float:
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


def plain_delete(store: ObjectStore, prefix: str) -> int:
    """The baseline: list a page of 1,000 keys, delete it with one DeleteObjects, repeat."""
    deleted = 0
    while True:
        found, _ = store.list_page(prefix, limit=1000)
        if not found:
            return deleted
        store.delete_many([prefix + o.name for o in found])
        deleted += len(found)


async def objects_phase(url: str, settings: Settings, sessions: sessionmaker[Session],
                        workdir: Path, objects: int, concurrency: int) -> dict[str, float]:
    plan = seaweed.WeedPlan.fresh(workdir / "objects")
    with seaweed.running(plan):
        files = settings.model_copy(update={"object_store_endpoint": plan.endpoint,
                                            "object_store_bucket": "bench-objects"})
        store = configured_store(files)
        assert store is not None
        store.ensure_bucket()
        with sessions.begin() as session:
            org = seed_org(session, OrgShape(projects=PROJECTS, records_per_dataset=1),
                           files.pepper_bytes)
        started = time.perf_counter()
        keys = put_objects(store, sessions, org.org_id, objects)
        say(f"put {objects:,} objects in {time.perf_counter() - started:.1f}s")

        queue = f"bench-objects-{uuid.uuid4().hex[:6]}"
        (workdir / "objects-temporal").mkdir()
        env = {"LIFECYCLE_OBJECT_STORE_ENDPOINT": plan.endpoint,
               "LIFECYCLE_OBJECT_STORE_BUCKET": "bench-objects"}
        async with dev_server(workdir / "objects-temporal") as temporal, \
                worker_process(url, temporal.address, queue, workdir, settings=env) as worker:
            await wait_for_pollers(temporal.client, queue, worker)
            inp = replace(recorded_input(files, org.org_id, f"member:{org.admin_member_id}", 0),
                          purge_concurrency=concurrency)
            started = time.perf_counter()
            handle = await start_teardown(temporal.client, files, inp, queue)
            progress = await handle.result()
            engine_s = time.perf_counter() - started
        if progress.status != COMPLETED:
            raise SystemExit(f"teardown ended {progress.status}: {progress.last_error}")
        say("objects engine step times: " + ", ".join(
            f"{step.name} {_seconds(step.started_at, step.finished_at):.2f}s"
            for step in progress.steps if step.started_at and step.finished_at))
        prefix = org_prefix(org.org_id)
        if store.list_page(prefix, limit=1)[0]:
            raise SystemExit("objects left behind by the engine")
        with sessions() as session:
            cert = session.scalars(select(DeletionCertificate).where(
                DeletionCertificate.org_id == org.org_id)).one()
        if cert.counts.get("object_storage.objects") != objects:
            raise SystemExit(f"certificate counts {cert.counts.get('object_storage.objects')} "
                             f"objects, {objects} existed")

        say("engine done; putting the same keys again for the plain DeleteObjects loop")
        put_again(store, keys)
        started = time.perf_counter()
        raw = plain_delete(store, prefix)
        raw_s = time.perf_counter() - started
    if raw != objects:
        raise SystemExit(f"the plain loop deleted {raw} objects, {objects} were put")
    return {"objects": float(objects), "engine_s": engine_s, "raw_s": raw_s}
