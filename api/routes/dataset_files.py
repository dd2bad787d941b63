"""Dataset files: upload (PUT the raw body, its Content-Type kept), list and download.

The body is streamed to a spooled temporary file (in memory up to 1 MiB, then on disk) and
refused with a 413 as soon as it passes `LIFECYCLE_DATASET_FILE_MAX_BYTES` (from the declared
length before reading when there is one), so a file is never held whole in memory and a
too-large one never reaches the object store. Writes are for the org admin's team key or the
project's key; any team key of the org reads. An object store that is down is a 503 with
`Retry-After`.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import IO, Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.auth import KeyDep
from api.deps import SessionDep, SettingsDep
from api.one_hop import OneHopRoute
from api.params import DatasetId, OrgId, PageLimit, ProjectId
from api.problems import (
    Conflict,
    ContentTooLarge,
    InvalidInput,
    NotFound,
    NotPermitted,
    Unauthorized,
    Unavailable,
    problem_responses,
)
from api.text_guard import opaque_body
from services import dataset_files as service
from store.objects import ObjectStore

router = APIRouter(route_class=OneHopRoute, tags=["datasets"])

BASE = "/orgs/{org_id}/projects/{project_id}/datasets/{dataset_id}/files"
SPOOL_IN_MEMORY = 1024 * 1024
FileName = Annotated[str, Path(min_length=1, max_length=200, pattern=service.FILE_NAME,
                               description="file name: letters, digits, '.', '_', '-'")]
READ_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput, Unavailable)
UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


class FileOut(BaseModel):
    name: str
    size: int = Field(description="bytes")
    content_type: str | None = Field(default=None, description="as uploaded (download keeps it)")
    modified: datetime | None = None


class FilePage(BaseModel):
    items: list[FileOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


def get_object_store(request: Request) -> ObjectStore:
    return service.require_store(cast(ObjectStore | None, request.app.state.objects))


ObjectStoreDep = Annotated[ObjectStore, Depends(get_object_store)]


class Spooled:
    def __init__(self, file: IO[bytes], size: int) -> None:
        self.file = file
        self.size = size


async def spooled_body(request: Request, settings: SettingsDep) -> AsyncIterator[Spooled]:
    """The body in a temporary file, counted as it arrives; a 413 past the limit."""
    limit = settings.dataset_file_max_bytes
    too_large = ContentTooLarge(f"a dataset file is at most {limit} bytes", max_bytes=limit)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as file:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            file.write(chunk)
        file.seek(0)
        yield Spooled(cast(IO[bytes], file), size)


SpooledBody = Annotated[Spooled, Depends(spooled_body)]


def _out(info: service.FileInfo) -> FileOut:
    return FileOut(name=info.name, size=info.size, content_type=info.content_type,
                   modified=info.modified)


@router.put(BASE + "/{file_name}", status_code=201, response_model=FileOut,
            summary="Upload a dataset file: the raw body, its Content-Type kept "
                    "(admin or the project's key)",
            responses=problem_responses(Unauthorized, NotPermitted, NotFound, Conflict,
                                        ContentTooLarge, InvalidInput, Unavailable),
            openapi_extra=UPLOAD_BODY)
@opaque_body
def upload_file(org_id: OrgId, project_id: ProjectId, dataset_id: DatasetId,
                file_name: FileName, request: Request, principal: KeyDep,
                store: ObjectStoreDep, body: SpooledBody, session: SessionDep) -> FileOut:
    principal.require_project(org_id, project_id)
    content_type = service.content_type_of(request.headers.get("content-type", ""))
    return _out(service.upload(session, store, org_id, project_id, dataset_id, file_name,
                               body.file, body.size, content_type, actor=principal.actor))


@router.get(BASE, response_model=FilePage, responses=READ_ERRORS,
            summary="List a dataset's files by name, a page at a time (team key or its key)")
def list_files(org_id: OrgId, project_id: ProjectId, dataset_id: DatasetId,
               principal: KeyDep, store: ObjectStoreDep, session: SessionDep,
               limit: PageLimit = 100, cursor: str = "") -> FilePage:
    principal.require_project_read(org_id, project_id)
    if len(cursor) > 200:
        raise InvalidInput("cursor is at most 200 characters")
    items, next_cursor = service.list_files(session, store, org_id, project_id, dataset_id,
                                            limit=limit, after=cursor)
    return FilePage(items=[_out(i) for i in items], next_cursor=next_cursor)


@router.get(BASE + "/{file_name}", response_class=StreamingResponse,
            responses={200: {"description": "the file's bytes, with its content type",
                             "content": {"*/*": {"schema": {"type": "string",
                                                            "format": "binary"}}}},
                       **READ_ERRORS},
            summary="Download a dataset file, streamed, with its Content-Type "
                    "(team key or the project's key)")
def download_file(org_id: OrgId, project_id: ProjectId, dataset_id: DatasetId,
                  file_name: FileName, principal: KeyDep, store: ObjectStoreDep,
                  session: SessionDep) -> StreamingResponse:
    principal.require_project_read(org_id, project_id)
    found = service.download(session, store, org_id, project_id, dataset_id, file_name)

    def chunks() -> Iterator[bytes]:
        yield from found.chunks

    return StreamingResponse(chunks(), media_type=found.content_type,
                             headers={"Content-Length": str(found.size)})
