"""Dataset files: upload, list and download, in the object store under the dataset's prefix.

An upload locks the org row and refuses a frozen org or a project being deleted (see
`services.guards`) and holds that lock while the object is written, so a teardown's freeze,
which takes the same lock before it counts the org's objects, sees every upload either whole
or refused: none is half counted, none lands after the count. The body arrives already
spooled and measured (`api.routes.dataset_files`), so a too-large file never reaches the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy.orm import Session

from core.problems import Conflict, InvalidInput, NotFound, Unavailable
from services.datasets import dataset_or_404
from services.guards import project_or_404, writable_project
from store.audit import audit
from store.objects import (
    Download,
    ObjectMissing,
    ObjectStore,
    ObjectStoreUnavailable,
    dataset_prefix,
)

FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]"
                        r"{0,126}(\s*;\s*[A-Za-z0-9_.-]{1,64}=[A-Za-z0-9_.\"-]{1,128})*$")
DEFAULT_TYPE = "application/octet-stream"


class FileExists(Conflict):
    slug = "file-exists"
    title = "A file of that name exists in the dataset"


class FilesOff(Unavailable):
    slug = "files-unavailable"
    title = "Dataset files are unavailable"


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    content_type: str | None
    modified: datetime | None


def require_store(store: ObjectStore | None) -> ObjectStore:
    if store is None:
        raise FilesOff("dataset files are not configured on this server "
                       "(LIFECYCLE_OBJECT_STORE_ENDPOINT)")
    return store


def content_type_of(header: str) -> str:
    value = header.strip() or DEFAULT_TYPE
    if not MEDIA_TYPE.match(value):
        raise InvalidInput("Content-Type is not a media type")
    return value


def _down(exc: ObjectStoreUnavailable) -> FilesOff:
    return FilesOff(f"{exc}: retry later")


def upload(session: Session, store: ObjectStore, org_id: str, project_id: str,
           dataset_id: str, name: str, body: IO[bytes], size: int, content_type: str, *,
           actor: str) -> FileInfo:
    writable_project(session, org_id, project_id)
    dataset_or_404(session, project_id, dataset_id)
    key = dataset_prefix(org_id, project_id, dataset_id) + name
    try:
        if store.exists(key):
            raise FileExists(f"the dataset has a file named {name}: delete it or pick "
                             "another name")
        store.put(key, body, size, content_type)
    except ObjectStoreUnavailable as exc:
        raise _down(exc) from None
    audit(session, org_id, actor, "dataset.file_uploaded", f"dataset:{dataset_id}",
          bytes=size)
    return FileInfo(name, size, content_type, None)


def list_files(session: Session, store: ObjectStore, org_id: str, project_id: str,
               dataset_id: str, *, limit: int, after: str) -> tuple[list[FileInfo], str | None]:
    project_or_404(session, org_id, project_id)
    dataset_or_404(session, project_id, dataset_id)
    try:
        found, more = store.list_page(dataset_prefix(org_id, project_id, dataset_id),
                                      after=after, limit=limit)
    except ObjectStoreUnavailable as exc:
        raise _down(exc) from None
    items = [FileInfo(o.name, o.size, None, o.modified) for o in found]
    return items, (items[-1].name if more and items else None)


def download(session: Session, store: ObjectStore, org_id: str, project_id: str,
             dataset_id: str, name: str) -> Download:
    project_or_404(session, org_id, project_id)
    dataset_or_404(session, project_id, dataset_id)
    try:
        return store.get(dataset_prefix(org_id, project_id, dataset_id) + name)
    except ObjectMissing:
        raise NotFound(f"the dataset has no file named {name}") from None
    except ObjectStoreUnavailable as exc:
        raise _down(exc) from None
