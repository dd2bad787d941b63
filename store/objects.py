"""Dataset files in an S3-compatible bucket, and the object-storage deletion target.

Every object of an org lives under one prefix, `orgs/<org>/projects/<project>/datasets/
<dataset>/<file name>`, so "everything of this org (or project, or dataset)" is a prefix: the
purge lists and deletes it, the verifier lists it again and must find nothing. The bucket is
the authority for what files exist; no table mirrors it.

Reached through boto3 with few, short retries of its own: an object store that is down fails
a call within seconds, so the API answers 503 at once and Temporal's retry policy (not boto3's)
waits out a long outage of the purge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, ClassVar

import boto3
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.settings import Settings
from store.targets import Page, Scope, Unit, deletion_target

log = logging.getLogger(__name__)

DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes
READ_CHUNK = 256 * 1024


class ObjectStoreUnavailable(Exception):
    """The object store could not be reached or answered a server error: retry later."""


class ObjectMissing(Exception):
    pass


class BucketMissing(Exception):
    """The bucket does not exist yet: nothing was ever stored (created at the first upload)."""


@dataclass(frozen=True)
class ObjectStoreConfig:
    endpoint: str
    bucket: str
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""  # never logged: `__repr__` leaves it out

    def __repr__(self) -> str:
        return (f"ObjectStoreConfig(endpoint={self.endpoint!r}, bucket={self.bucket!r}, "
                f"region={self.region!r})")


@dataclass(frozen=True)
class StoredObject:
    name: str
    size: int
    modified: datetime


@dataclass
class Download:
    content_type: str
    size: int
    chunks: Iterator[bytes]


def org_prefix(org_id: str) -> str:
    return f"orgs/{org_id}/"


def project_prefix(org_id: str, project_id: str) -> str:
    return f"{org_prefix(org_id)}projects/{project_id}/"


def dataset_prefix(org_id: str, project_id: str, dataset_id: str) -> str:
    return f"{project_prefix(org_id, project_id)}datasets/{dataset_id}/"


def scope_prefix(scope: Scope) -> str:
    if scope.project_id:
        return project_prefix(scope.org_id, scope.project_id)
    return org_prefix(scope.org_id)


def _unavailable(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return status >= 500 or status == 0
    return isinstance(exc, BotoCoreError)


class ObjectStore:
    """The bucket's few operations the engine needs, errors turned into the two it names."""

    def __init__(self, config: ObjectStoreConfig) -> None:
        self.config = config
        self.bucket = config.bucket
        self._bucket_seen = False
        self._bucket_lock = threading.Lock()
        self.client: Any = boto3.client(
            "s3", endpoint_url=config.endpoint, region_name=config.region,
            aws_access_key_id=config.access_key_id or "lifecycle",
            aws_secret_access_key=config.secret_access_key or "lifecycle",
            config=Config(connect_timeout=2, read_timeout=30, max_pool_connections=32,
                          retries={"max_attempts": 2, "mode": "standard"},
                          s3={"addressing_style": "path"}))

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            code = (exc.response.get("Error", {}).get("Code")
                    if isinstance(exc, ClientError) else None)
            if code == "NoSuchBucket":
                raise BucketMissing(self.bucket) from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissing(kwargs.get("Key", "")) from None
            if _unavailable(exc):
                log.warning("object store %s: %s failed: %s", self.config.endpoint,
                            operation, type(exc).__name__)
                raise ObjectStoreUnavailable(f"the object store is unavailable "
                                             f"({type(exc).__name__})") from None
            raise

    def ensure_bucket(self) -> None:
        with self._bucket_lock:
            try:
                self._call("head_bucket", Bucket=self.bucket)
            except (ObjectMissing, BucketMissing):
                try:
                    self._call("create_bucket", Bucket=self.bucket)
                except ClientError as exc:  # made by another process meanwhile
                    if exc.response.get("Error", {}).get("Code") not in (
                            "BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Bucket=self.bucket, Key=key)
        except (ObjectMissing, BucketMissing):
            return False
        return True

    def put(self, key: str, body: IO[bytes], size: int, content_type: str) -> None:
        if not self._bucket_seen:  # the first upload of this process makes sure it exists
            self.ensure_bucket()
            self._bucket_seen = True
        self._call("put_object", Bucket=self.bucket, Key=key, Body=body, ContentLength=size,
                   ContentType=content_type)

    def get(self, key: str) -> Download:
        try:
            answer = self._call("get_object", Bucket=self.bucket, Key=key)
        except BucketMissing:
            raise ObjectMissing(key) from None
        return Download(str(answer.get("ContentType") or "application/octet-stream"),
                        int(answer["ContentLength"]), answer["Body"].iter_chunks(READ_CHUNK))

    def list_page(self, prefix: str, *, after: str = "", limit: int = 1000
                  ) -> tuple[list[StoredObject], bool]:
        """Objects under `prefix` with names past `after` (relative to it), and whether more
        follow."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix,
                                  "MaxKeys": max(1, min(limit, 1000))}
        if after:
            kwargs["StartAfter"] = prefix + after
        try:
            answer = self._call("list_objects_v2", **kwargs)
        except BucketMissing:
            return [], False
        found = [StoredObject(o["Key"][len(prefix):], int(o["Size"]), o["LastModified"])
                 for o in answer.get("Contents", [])]
        return found, bool(answer.get("IsTruncated"))

    def walk(self, prefix: str) -> Iterator[StoredObject]:
        after = ""
        while True:
            found, more = self.list_page(prefix, after=after)
            yield from found
            if not more or not found:
                return
            after = found[-1].name

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete `keys` in DeleteObjects calls of up to 1,000; a key already gone is no
        error. A key the store refused to delete is raised as unavailable (retried)."""
        for start in range(0, len(keys), DELETE_BATCH):
            chunk = keys[start:start + DELETE_BATCH]
            try:
                answer = self._call("delete_objects", Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in chunk], "Quiet": True})
            except BucketMissing:
                return
            errors = [e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if errors:
                raise ObjectStoreUnavailable(f"{len(errors)} object(s) not deleted: "
                                             f"{errors[0].get('Code')}")


    def delete_prefix(self, prefix: str) -> int:
        """Every object under `prefix`, a listed page of 1,000 per DeleteObjects; how many."""
        deleted = 0
        while True:
            found, _ = self.list_page(prefix, limit=DELETE_BATCH)
            if not found:
                return deleted
            self.delete_many([prefix + o.name for o in found])
            deleted += len(found)


@deletion_target("object_storage")
class ObjectStorageTarget:
    """Dataset files: units are objects (relative key, bytes) under the scope's prefix."""

    name: ClassVar[str]
    activity: ClassVar[str] = "purge_target"
    units_kind: ClassVar[str] = "objects"
    size_kind: ClassVar[str] = "bytes"

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def enumerate(self, scope: Scope, cursor: str, limit: int) -> Page:
        found, more = self.store.list_page(scope_prefix(scope), after=cursor, limit=limit)
        units = [Unit(o.name, o.size) for o in found]
        return Page(units, units[-1].key if more and units else None)

    def delete(self, scope: Scope, units: Sequence[Unit]) -> None:
        prefix = scope_prefix(scope)
        self.store.delete_many([prefix + u.key for u in units])

    def verify(self, scope: Scope) -> dict[str, int]:
        return {"objects": sum(1 for _ in self.store.walk(scope_prefix(scope)))}

    def count(self, scope: Scope) -> dict[str, int]:
        objects = size = 0
        for found in self.store.walk(scope_prefix(scope)):
            objects += 1
            size += found.size
        return {"objects": objects, "bytes": size}


def configured_store(settings: Settings) -> ObjectStore | None:
    """The object store the settings name, or None when dataset files are off."""
    if not settings.object_store_endpoint:
        return None
    return ObjectStore(ObjectStoreConfig(
        endpoint=settings.object_store_endpoint, bucket=settings.object_store_bucket,
        region=settings.object_store_region,
        access_key_id=settings.object_store_access_key_id,
        secret_access_key=settings.object_store_secret_access_key.get_secret_value()))
