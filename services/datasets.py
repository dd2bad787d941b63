"""Datasets and their records: create, delete, append in bulk, and the seed's bulk load.

Every write locks the org row and refuses a frozen org or a project being deleted (see
`services.guards`), changes the records and the dataset's stored `record_count` in the same
transaction, and leaves an audit event naming ids and counts, never record content.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.problems import Conflict, InvalidInput, NotFound, Unavailable
from services.guards import active_project, writable_org, writable_project
from services.names import check_name
from services.projects import NameTaken
from store import bulk, datasets
from store import projects as project_rows
from store.audit import audit, audit_many
from store.base import utcnow
from store.models import Dataset
from store.objects import ObjectStore, ObjectStoreUnavailable, dataset_prefix


@dataclass(frozen=True)
class Appended:
    appended: int
    record_count: int


class DatasetTooLarge(Conflict):
    slug = "dataset-too-large"
    title = "The dataset is too large to delete in one request"


def dataset_or_404(session: Session, project_id: str, dataset_id: str, *,
                   lock: bool = False) -> Dataset:
    dataset = datasets.get_dataset(session, project_id, dataset_id, lock=lock)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} does not exist in this project")
    return dataset


def create_datasets_in(session: Session, org_id: str,
                       names: Mapping[str, Sequence[str]], *, actor: str) -> dict[str, list[str]]:
    """New empty datasets, `names` per project (each an active project of an active org, the
    names unique in it); their ids per project. One lock, one check and one insert however
    many projects: the seed command fills a thousand projects at a time."""
    writable_org(session, org_id)
    projects = project_rows.projects_in(session, org_id, list(names))
    for project_id in names:
        project = projects.get(project_id)
        if project is None:
            raise NotFound(f"project {project_id} does not exist in this organization")
        active_project(project)
    for project_names in names.values():
        for name in project_names:
            check_name(name)
    repeated = [(pid, n) for pid, project_names in names.items()
                for n, times in Counter(project_names).items() if times > 1]
    taken = datasets.taken_names(session, names)
    if repeated or taken:
        raise NameTaken(f"{len(set(repeated) | taken)} dataset name(s) are already used in "
                        "their project", field="name")
    ids = datasets.insert_datasets(session, org_id, names, utcnow())
    audit_many(session, actor, "dataset.created",
               [(org_id, f"dataset:{ds}") for made in ids.values() for ds in made],
               [{"project_id": pid} for pid, made in ids.items() for _ in made])
    return ids


def create_datasets(session: Session, org_id: str, project_id: str, names: Sequence[str], *,
                    actor: str) -> list[str]:
    """New empty datasets in one active project; their ids (see `create_datasets_in`)."""
    return create_datasets_in(session, org_id, {project_id: names}, actor=actor)[project_id]


def create_dataset(session: Session, org_id: str, project_id: str, name: str, *,
                   actor: str) -> Dataset:
    (dataset_id,) = create_datasets(session, org_id, project_id, [name], actor=actor)
    return dataset_or_404(session, project_id, dataset_id)


def delete_dataset(session: Session, org_id: str, project_id: str, dataset_id: str, *,
                   actor: str, max_records: int, objects: ObjectStore | None = None) -> int:
    """Delete a dataset with its records in this transaction, and its files from `objects`
    (when files are on); the records deleted.

    A dataset above `max_records` is refused rather than deleted in one long statement that
    would hold the org's lock: such a dataset goes with its project's deletion, which purges in
    batches. The files go after the rows are deleted and before the commit: an object store
    that is down refuses the whole request (503, the rows rolled back, a retry finishes).
    """
    writable_project(session, org_id, project_id)
    dataset = dataset_or_404(session, project_id, dataset_id, lock=True)
    if dataset.record_count > max_records:
        raise DatasetTooLarge(
            f"the dataset holds {dataset.record_count} records, more than the "
            f"{max_records} deleted in one request: delete its project instead",
            record_count=dataset.record_count, max_records=max_records)
    deleted = datasets.delete_dataset(session, dataset)
    files = 0
    if objects is not None:
        try:
            files = objects.delete_prefix(dataset_prefix(org_id, project_id, dataset_id))
        except ObjectStoreUnavailable as exc:
            raise Unavailable(f"{exc}: the dataset is kept, retry later") from None
    audit(session, org_id, actor, "dataset.deleted", f"dataset:{dataset_id}",
          project_id=project_id, records=deleted, files=files)
    return deleted


def append_records(session: Session, org_id: str, project_id: str, dataset_id: str,
                   payloads: Sequence[bytes], *, actor: str) -> Appended:
    """Store already validated payloads as new records; all of them or, on error, none."""
    if not payloads:
        raise InvalidInput("no records to append")
    writable_project(session, org_id, project_id)
    dataset = dataset_or_404(session, project_id, dataset_id, lock=True)
    added = datasets.append_records(session, dataset.id, payloads)
    session.refresh(dataset, ["record_count"])
    audit(session, org_id, actor, "dataset.records_appended", f"dataset:{dataset_id}",
          project_id=project_id, records=added)
    return Appended(appended=added, record_count=dataset.record_count)


def load_records(session: Session, org_id: str, dataset_ids: Sequence[str], per_dataset: int,
                 payloads: Sequence[bytes], *, actor: str,
                 on_records: Callable[[int], None] | None = None) -> int:
    """The bulk path (seed, benchmarks): `per_dataset` records into each of the org's datasets.

    Rows stream in through `store.bulk` (COPY on PostgreSQL), the counts and audit events are
    written as for an append, so a seeded dataset looks exactly like one filled by the API.
    """
    writable_org(session, org_id)
    if datasets.count_in_org(session, org_id, dataset_ids) != len(set(dataset_ids)):
        raise NotFound("some datasets are not this organization's")
    written = bulk.insert_records(session, dataset_ids, per_dataset, payloads, on_records)
    if written:
        datasets.add_record_counts(session, {ds: per_dataset for ds in dataset_ids})
        audit_many(session, actor, "dataset.records_appended",
                   [(org_id, f"dataset:{ds}") for ds in dataset_ids])
    return written
