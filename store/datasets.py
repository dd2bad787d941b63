"""Dataset and record queries: look up, page, insert, delete, and the stored record counts.

`Dataset.record_count` is changed in the same transaction as the records it counts (appends
add to it, a dataset's deletion takes its rows with it), so it is exact whenever a transaction
can see it. Records are paged by keyset on `(dataset_id, id)`, the index the purge walks too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from store.base import new_id
from store.models import Dataset, DatasetRecord
from store.paging import keyset_page


def get_dataset(session: Session, project_id: str, dataset_id: str, *,
                lock: bool = False) -> Dataset | None:
    query = select(Dataset).where(Dataset.id == dataset_id, Dataset.project_id == project_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def count_in_org(session: Session, org_id: str, dataset_ids: Sequence[str]) -> int:
    """How many of `dataset_ids` are datasets of the org."""
    if not dataset_ids:
        return 0
    return int(session.execute(select(func.count()).select_from(Dataset).where(
        Dataset.org_id == org_id, Dataset.id.in_(list(dataset_ids)))).scalar_one())


def list_datasets(session: Session, project_id: str, *, limit: int = 50,
                  after: str = "") -> tuple[list[Dataset], str | None]:
    return keyset_page(session, select(Dataset).where(Dataset.project_id == project_id),
                       Dataset.id, limit=limit, after=after)


def taken_names(session: Session, names: Mapping[str, Sequence[str]]) -> set[tuple[str, str]]:
    """Which (project id, name) pairs of `names` (names per project) exist already."""
    wanted = [(pid, n) for pid, project_names in names.items() for n in project_names]
    if not wanted:
        return set()
    rows = session.execute(select(Dataset.project_id, Dataset.name).where(
        Dataset.project_id.in_(list(names)),
        Dataset.name.in_(sorted({n for _, n in wanted}))))
    return {(pid, n) for pid, n in rows} & set(wanted)


def insert_datasets(session: Session, org_id: str, names: Mapping[str, Sequence[str]],
                    now: datetime) -> dict[str, list[str]]:
    """Insert one empty dataset per name, per project, in one executemany; the new ids."""
    ids: dict[str, list[str]] = {pid: [] for pid in names}
    rows = []
    for project_id, project_names in names.items():
        for name in project_names:
            rows.append(dict(id=new_id(), org_id=org_id, project_id=project_id, name=name,
                             record_count=0, created_at=now))
            ids[project_id].append(str(rows[-1]["id"]))
    if rows:
        session.execute(insert(Dataset), rows)
    return ids


def append_records(session: Session, dataset_id: str, payloads: Sequence[bytes]) -> int:
    """Insert the payloads as records of `dataset_id` (one executemany) and count them in."""
    if not payloads:
        return 0
    table: Table = DatasetRecord.__table__  # type: ignore[assignment]
    session.execute(insert(table), [{"dataset_id": dataset_id, "payload": p} for p in payloads])
    add_record_counts(session, {dataset_id: len(payloads)})
    return len(payloads)


def add_record_counts(session: Session, added: Mapping[str, int]) -> None:
    """Add `added[dataset_id]` to each dataset's stored count.

    One UPDATE per distinct amount, not per dataset: psycopg2 runs an executemany UPDATE as
    one round trip per row, and a seeded org adds the same amount to thousands of datasets.
    """
    by_amount: dict[int, list[str]] = {}
    for dataset_id, n in added.items():
        by_amount.setdefault(n, []).append(dataset_id)
    for n, ids in sorted(by_amount.items()):
        session.execute(update(Dataset).where(Dataset.id.in_(ids))
                        .values(record_count=Dataset.record_count + n)
                        .execution_options(synchronize_session=False))


def records_page(session: Session, dataset_id: str, *, limit: int = 100,
                 after: int = 0) -> tuple[list[DatasetRecord], str | None]:
    return keyset_page(session, select(DatasetRecord).where(
        DatasetRecord.dataset_id == dataset_id), DatasetRecord.id, limit=limit, after=after)


def delete_dataset(session: Session, dataset: Dataset) -> int:
    """Delete the dataset and its records in the caller's transaction; records deleted."""
    result = session.execute(delete(DatasetRecord).where(
        DatasetRecord.dataset_id == dataset.id))
    session.execute(delete(Dataset).where(Dataset.id == dataset.id)
                    .execution_options(synchronize_session=False))
    session.expunge(dataset)
    return int(getattr(result, "rowcount", 0) or 0)
