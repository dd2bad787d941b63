"""Datasets of a project and their records: create, list, show, delete; append and read records.

Writes are for the org admin's team key or the project's own key (project keys "authenticate
operations on the resources of their project"); any team key of the org reads. Records come in
bulk as NDJSON or a JSON array of objects, size-limited and checked whole before anything is
written (`services.record_input`); they are read back a page at a time by id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyDep
from api.deps import SessionDep, SettingsDep
from api.guards import project_or_404
from api.one_hop import OneHopRoute
from api.params import DatasetId, NumericCursor, OrgId, PageCursor, PageLimit, ProjectId, numeric
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
from api.text_guard import checks_own_text
from core.text import OneLine
from services import datasets as service
from services.names import MAX_NAME, NAME_PATTERN
from services.record_input import JSON, NDJSON, RecordLimits, decode_record, parse_records
from store import datasets
from store.models import Dataset

router = APIRouter(route_class=OneHopRoute, tags=["datasets"])

READ_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, InvalidInput)
WRITE_ERRORS = problem_responses(Unauthorized, NotPermitted, NotFound, Conflict, InvalidInput)
DATASET_EXAMPLE: dict[str, Any] = {
    "id": "0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a", "project_id": "7c1e0b5d9f2a4e6b8c0d1e2f3a4b5c6d",
    "name": "reads-2026", "records": 120000, "created_at": "2026-01-01T00:00:00Z"}
RECORDS_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    NDJSON[0]: {"schema": {"type": "string", "minLength": 1},
                "example": '{"sample": "s-1", "reads": 1200}\n{"sample": "s-2", "reads": 980}\n'},
    JSON: {"schema": {"type": "array", "minItems": 1, "items": {"type": "object"}},
           "example": [{"sample": "s-1", "reads": 1200}, {"sample": "s-2", "reads": 980}]},
}}}


class DatasetOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DATASET_EXAMPLE]})

    id: str
    project_id: str
    name: str
    records: int = Field(description="records in the dataset")
    created_at: datetime


class DatasetPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [DATASET_EXAMPLE], "next_cursor": None}]})

    items: list[DatasetOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"name": "reads-2026"}]})

    name: OneLine = Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN,
                      description="unique in the project")


class DatasetDeleted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": "0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a", "records_deleted": 120000}]})

    id: str
    records_deleted: int


class AppendedOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"dataset_id": "0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a", "appended": 2, "records": 120002}]})

    dataset_id: str
    appended: int
    records: int = Field(description="records in the dataset after this append")


class RecordOut(BaseModel):
    id: int
    data: Any = Field(description="the record as it was sent (a JSON object); null for raw "
                      "records loaded by bulk tools")


class RecordPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        {"id": 1, "data": {"sample": "s-1", "reads": 1200}}], "next_cursor": "1"}]})

    items: list[RecordOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


def _out(dataset: Dataset) -> DatasetOut:
    return DatasetOut(id=dataset.id, project_id=dataset.project_id, name=dataset.name,
                      records=dataset.record_count, created_at=dataset.created_at)


async def records_body(request: Request, settings: SettingsDep) -> bytes:
    """The raw body, refused with a 413 above the configured size (checked from the declared
    length before reading when there is one)."""
    limit = settings.records_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ContentTooLarge(f"a records upload is at most {limit} bytes: send several",
                              max_bytes=limit)
    body = await request.body()
    if len(body) > limit:
        raise ContentTooLarge(f"a records upload is at most {limit} bytes: send several",
                              max_bytes=limit)
    return body


RecordsBody = Annotated[bytes, Depends(records_body)]
BASE = "/orgs/{org_id}/projects/{project_id}/datasets"


@router.post(BASE, status_code=201, response_model=DatasetOut, responses=WRITE_ERRORS,
             summary="Create a dataset (admin or the project's key)")
def create_dataset(org_id: OrgId, project_id: ProjectId, body: DatasetIn, principal: KeyDep,
                   session: SessionDep) -> DatasetOut:
    principal.require_project(org_id, project_id)
    return _out(service.create_dataset(session, org_id, project_id, body.name,
                                       actor=principal.actor))


@router.get(BASE, response_model=DatasetPage, responses=READ_ERRORS,
            summary="List a project's datasets, a page at a time (team key or its key)")
def list_datasets(org_id: OrgId, project_id: ProjectId, principal: KeyDep, session: SessionDep,
                  limit: PageLimit = 50, cursor: PageCursor = "") -> DatasetPage:
    principal.require_project_read(org_id, project_id)
    project_or_404(session, org_id, project_id)
    rows, next_cursor = datasets.list_datasets(session, project_id, limit=limit, after=cursor)
    return DatasetPage(items=[_out(d) for d in rows], next_cursor=next_cursor)


@router.get(BASE + "/{dataset_id}", response_model=DatasetOut, responses=READ_ERRORS,
            summary="One dataset with its record count (team key or the project's key)")
def get_dataset(org_id: OrgId, project_id: ProjectId, dataset_id: DatasetId,
                principal: KeyDep, session: SessionDep) -> DatasetOut:
    principal.require_project_read(org_id, project_id)
    project_or_404(session, org_id, project_id)
    return _out(service.dataset_or_404(session, project_id, dataset_id))


@router.delete(BASE + "/{dataset_id}", response_model=DatasetDeleted,
               responses={**WRITE_ERRORS, **problem_responses(Unavailable)},
               summary="Delete a dataset, its records and its files "
                       "(admin or the project's key)")
def delete_dataset(org_id: OrgId, project_id: ProjectId, dataset_id: DatasetId,
                   principal: KeyDep, session: SessionDep, settings: SettingsDep,
                   request: Request) -> DatasetDeleted:
    principal.require_project(org_id, project_id)
    deleted = service.delete_dataset(session, org_id, project_id, dataset_id,
                                     actor=principal.actor,
                                     max_records=settings.dataset_delete_max_records,
                                     objects=request.app.state.objects)
    return DatasetDeleted(id=dataset_id, records_deleted=deleted)


@router.post(BASE + "/{dataset_id}/records", status_code=201, response_model=AppendedOut,
             summary="Append records in bulk: NDJSON or a JSON array of objects, all or none "
                     "(admin or the project's key)",
             responses=problem_responses(Unauthorized, NotPermitted, NotFound, ContentTooLarge,
                                         InvalidInput),
             openapi_extra=RECORDS_BODY)
@checks_own_text
def append_records(org_id: OrgId, project_id: ProjectId, dataset_id: DatasetId,
                   request: Request, body: RecordsBody, principal: KeyDep,
                   session: SessionDep, settings: SettingsDep) -> AppendedOut:
    principal.require_project(org_id, project_id)
    payloads = parse_records(body, request.headers.get("content-type", ""), RecordLimits(
        max_records=settings.records_max_per_request,
        max_record_bytes=settings.record_max_bytes))
    done = service.append_records(session, org_id, project_id, dataset_id, payloads,
                                  actor=principal.actor)
    return AppendedOut(dataset_id=dataset_id, appended=done.appended, records=done.record_count)


@router.get(BASE + "/{dataset_id}/records", response_model=RecordPage, responses=READ_ERRORS,
            summary="Read a dataset's records, a page at a time (team key or the project's key)")
def read_records(org_id: OrgId, project_id: ProjectId, dataset_id: DatasetId,
                 principal: KeyDep, session: SessionDep, limit: PageLimit = 100,
                 cursor: NumericCursor = "") -> RecordPage:
    principal.require_project_read(org_id, project_id)
    project_or_404(session, org_id, project_id)
    service.dataset_or_404(session, project_id, dataset_id)
    rows, next_cursor = datasets.records_page(session, dataset_id, limit=limit,
                                              after=numeric(cursor))
    return RecordPage(items=[RecordOut(id=r.id, data=decode_record(r.payload)) for r in rows],
                      next_cursor=next_cursor)
