"""Dataset files for tests: many objects put straight into the bucket under the datasets'
prefixes (the layout the API writes), and listing an org's objects back through S3."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Dataset
from store.objects import ObjectStore, dataset_prefix, org_prefix, project_prefix


@dataclass(frozen=True)
class PutFiles:
    objects: int
    size: int

    def counts(self) -> dict[str, int]:
        """As a certificate reports them."""
        return {"object_storage.objects": self.objects, "object_storage.bytes": self.size}


def put_files(store: ObjectStore, sessions: sessionmaker[Session], org_id: str,
              per_dataset: int, *, project_id: str = "") -> PutFiles:
    """`per_dataset` files in every dataset of the org (or of one project), sizes varied."""
    with sessions() as session:
        query = select(Dataset.project_id, Dataset.id).where(Dataset.org_id == org_id)
        if project_id:
            query = query.where(Dataset.project_id == project_id)
        datasets = [(pid, did) for pid, did in session.execute(query.order_by(Dataset.id))]
    jobs = [(dataset_prefix(org_id, pid, did) + f"part-{i:05d}.bin", 16 + (i % 7) * 10)
            for pid, did in datasets for i in range(per_dataset)]

    def put(job: tuple[str, int]) -> None:
        key, size = job
        store.put(key, io.BytesIO(b"x" * size), size, "application/octet-stream")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, jobs))
    return PutFiles(len(jobs), sum(size for _, size in jobs))


def objects_of(store: ObjectStore, org_id: str, project_id: str = "") -> list[str]:
    """Every key under the org's (or project's) prefix, listed through the S3 API."""
    prefix = project_prefix(org_id, project_id) if project_id else org_prefix(org_id)
    return [o.name for o in store.walk(prefix)]
