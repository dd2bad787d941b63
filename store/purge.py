"""The project purge's queries: a project's records in keyset batches, then its own rows.

Records are deleted by keyset on the `(dataset_id, id)` index: find the highest of the next
`batch` ids and how many there are, then delete the range up to it. Both statements use the
index on SQLite and PostgreSQL, unlike `id IN (SELECT ... LIMIT n)`, which PostgreSQL turns
into a full scan at large n. A batch shorter than `batch` is the dataset's last: the purge only
runs on a frozen project, which nothing adds records to, so no probe after it is needed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Delete, Select, delete, func, select
from sqlalchemy.orm import Session

from store.base import rowcount
from store.datasets import add_record_counts
from store.models import ApiKey, Dataset, DatasetRecord, Project


def dataset_ids(session: Session, project_id: str, *, starting_at: str = "") -> list[str]:
    """The project's datasets from `starting_at` on (inclusive: a purge resumes inside it)."""
    return list(session.scalars(select(Dataset.id).where(
        Dataset.project_id == project_id, Dataset.id >= starting_at).order_by(Dataset.id)))


class Batch(NamedTuple):
    """The next batch of a dataset: its highest id (None: nothing left) and its size."""

    upper: int | None
    size: int


def next_batch_query(dataset_id: str, after: int, batch: int) -> Select[Any, int]:
    """The highest of the next `batch` ids of `dataset_id` after `after`, and how many there
    are, in one index-only scan."""
    ids = (select(DatasetRecord.id)
           .where(DatasetRecord.dataset_id == dataset_id, DatasetRecord.id > after)
           .order_by(DatasetRecord.id).limit(batch).subquery())
    return select(func.max(ids.c.id), func.count()).select_from(ids)


def range_delete(dataset_id: str, after: int, upper: int) -> Delete:
    """The batch itself: the records of `dataset_id` with `after < id <= upper`."""
    return delete(DatasetRecord).where(DatasetRecord.dataset_id == dataset_id,
                                       DatasetRecord.id > after, DatasetRecord.id <= upper)


def next_batch(session: Session, dataset_id: str, after: int, batch: int) -> Batch:
    """Where the next batch of `dataset_id` after `after` ends, and how many records it has."""
    row = session.execute(next_batch_query(dataset_id, after, batch)).one()
    return Batch(row[0], row[1])


def delete_range(session: Session, dataset_id: str, after: int, upper: int) -> int:
    """Delete the records of `dataset_id` with `after < id <= upper`; how many went.

    The dataset's stored count drops by as many in the same transaction, so it stays exact
    while a purge runs: the plan and a freeze read it instead of counting the rows.
    """
    deleted = rowcount(session.execute(range_delete(dataset_id, after, upper)))
    if deleted:
        add_record_counts(session, {dataset_id: -deleted})
    return deleted


def erase_project(session: Session, project_id: str) -> dict[str, int]:
    """The emptied project's datasets, keys and the project row; rows deleted per table."""
    return {
        "datasets": rowcount(session.execute(delete(Dataset).where(
            Dataset.project_id == project_id))),
        "api_keys": rowcount(session.execute(delete(ApiKey).where(
            ApiKey.project_id == project_id))),
        "projects": rowcount(session.execute(delete(Project).where(
            Project.id == project_id))),
    }


def purge_records(session: Session, project_id: str) -> int:
    """Every record of the project's datasets, one statement per dataset; how many went.

    For a caller outside an activity (the relational target's `delete`); the teardown's own
    purge walks the same index in committed batches instead (`next_batch`, `delete_range`).
    """
    deleted = 0
    for dataset_id in dataset_ids(session, project_id):
        upper = session.scalars(select(func.max(DatasetRecord.id)).where(
            DatasetRecord.dataset_id == dataset_id)).first()
        if upper is not None:
            deleted += delete_range(session, dataset_id, 0, upper)
    return deleted
