"""Dataset and record queries: look up, page, insert, delete, and the stored record counts.

`Dataset.record_count` is changed in the same transaction as the records it counts (appends
add to it, a dataset's deletion takes its rows with it), so it is exact whenever a transaction
can see it. Records are paged by keyset on `(dataset_id, id)`, the index the purge walks too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from store.base import new_id
from store.models import Dataset, DatasetRecord


def get_dataset(session: Session, project_id: str, dataset_id: str, *,
                lock: bool = False) -> Dataset | None:
    query = select(Dataset).where(Dataset.id == dataset_id, Dataset.project_id == project_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def list_datasets(session: Session, project_id: str, *, limit: int = 50,
                  after: str = "") -> tuple[list[Dataset], str | None]:
    rows = list(session.execute(select(Dataset).where(
        Dataset.project_id == project_id, Dataset.id > after).order_by(Dataset.id)
        .limit(limit + 1)).scalars())
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def taken_names(session: Session, project_id: str, names: Sequence[str]) -> set[str]:
    if not names:
        return set()
    return set(session.scalars(select(Dataset.name).where(
        Dataset.project_id == project_id, Dataset.name.in_(list(names)))))


def insert_datasets(session: Session, org_id: str, project_id: str, names: Sequence[str],
                    now: datetime) -> list[str]:
    """Insert one empty dataset per name in one executemany; their new ids, in order."""
    rows = [dict(id=new_id(), org_id=org_id, project_id=project_id, name=name,
                 record_count=0, created_at=now) for name in names]
    if rows:
        session.execute(insert(Dataset), rows)
    return [str(row["id"]) for row in rows]


def append_records(session: Session, dataset_id: str, payloads: Sequence[bytes]) -> int:
    """Insert the payloads as records of `dataset_id` (one executemany) and count them in."""
    if not payloads:
        return 0
    table: Table = DatasetRecord.__table__  # type: ignore[assignment]
    session.execute(insert(table), [{"dataset_id": dataset_id, "payload": p} for p in payloads])
    add_record_counts(session, {dataset_id: len(payloads)})
    return len(payloads)


def add_record_counts(session: Session, added: Mapping[str, int]) -> None:
    """Add `added[dataset_id]` to each dataset's stored count (one executemany)."""
    if not added:
        return
    table: Table = Dataset.__table__  # type: ignore[assignment]
    session.execute(
        update(table).where(table.c.id == bindparam("ds"))
        .values(record_count=table.c.record_count + bindparam("n")),
        [{"ds": ds, "n": n} for ds, n in added.items()])


def records_page(session: Session, dataset_id: str, *, limit: int = 100,
                 after: int = 0) -> tuple[list[DatasetRecord], int | None]:
    rows = list(session.execute(select(DatasetRecord).where(
        DatasetRecord.dataset_id == dataset_id, DatasetRecord.id > after)
        .order_by(DatasetRecord.id).limit(limit + 1)).scalars())
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def delete_dataset(session: Session, dataset: Dataset) -> int:
    """Delete the dataset and its records in the caller's transaction; records deleted."""
    result = session.execute(delete(DatasetRecord).where(
        DatasetRecord.dataset_id == dataset.id))
    session.execute(delete(Dataset).where(Dataset.id == dataset.id)
                    .execution_options(synchronize_session=False))
    session.expunge(dataset)
    return int(getattr(result, "rowcount", 0) or 0)
