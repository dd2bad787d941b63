"""Bulk loading of dataset records and API keys: COPY on PostgreSQL, executemany on SQLite.

Why a module of its own: records (and, for the sweep's benchmark, keys) are the only tables
seeded by the million, and the fast path is
driver-specific (psycopg2's `copy_expert` on the session's own connection, so the rows share the
caller's transaction and vanish on rollback). Keeping that here leaves `seeding` about the shape
of an org, not about wire formats.

Records are written in chunks that may span datasets, so an org of many small datasets costs as
few statements as one of a few large ones, memory stays bounded, and progress is reported per
chunk.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from enum import Enum
from itertools import islice
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from store.models import ApiKey, DatasetRecord

# Rows per COPY or executemany: about 9 MB of COPY text, a progress tick every fraction of a
# second, and few enough statements that their fixed cost is lost in the noise.
RECORD_CHUNK = 20_000
# psycopg2 reads the COPY buffer in pieces of this size (its default, 8 KiB, means ~1,000 Python
# calls per chunk).
COPY_READ_SIZE = 1 << 20
COPY_SQL = "COPY dataset_records (dataset_id, payload) FROM STDIN"
KEY_COLUMNS = ("id", "org_id", "scope", "project_id", "name", "prefix", "secret_hash",
               "created_by", "created_at", "expires_at", "revoked_at")
COPY_KEYS_SQL = f"COPY api_keys ({', '.join(KEY_COLUMNS)}) FROM STDIN"

Span = tuple[str, int, int]  # dataset id, index of its first record in the span, record count


def spans(dataset_ids: Sequence[str], per_dataset: int, chunk: int) -> Iterator[list[Span]]:
    """Cut `per_dataset` records for every dataset into chunks of at most `chunk` records."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    batch: list[Span] = []
    room = chunk
    for dataset_id in dataset_ids:
        start = 0
        while start < per_dataset:
            n = min(room, per_dataset - start)
            batch.append((dataset_id, start, n))
            start += n
            room -= n
            if room == 0:
                yield batch
                batch, room = [], chunk
    if batch:
        yield batch


def copy_text(value: str) -> str:
    """Escape a value for COPY's text format, where backslash, tab and newlines are syntax."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def copy_lines(dataset_id: str, payloads: Sequence[bytes]) -> list[bytes]:
    """One COPY text line per payload variant for `dataset_id`.

    bytea's hex input form is `\\x<hex>`; COPY's text format reads a backslash as an escape, so
    the line must carry it doubled for the server to see a single one.
    """
    head = copy_text(dataset_id) + "\t\\\\x"
    return [(head + payload.hex() + "\n").encode("ascii") for payload in payloads]


def _raw_connection(session: Session) -> Any:
    """The DBAPI connection under the session's transaction (not a new one from the pool)."""
    return session.connection().connection.dbapi_connection


def _copy_records(session: Session, batches: Iterator[list[Span]], dataset_ids: Sequence[str],
                  payloads: Sequence[bytes], on_records: Callable[[int], None] | None) -> int:
    lines = {dataset_id: copy_lines(dataset_id, payloads) for dataset_id in dataset_ids}
    variants = len(payloads)
    total = 0
    cursor = _raw_connection(session).cursor()
    try:
        for batch in batches:
            body = b"".join(lines[ds][(start + i) % variants]
                            for ds, start, n in batch for i in range(n))
            cursor.copy_expert(COPY_SQL, io.BytesIO(body), size=COPY_READ_SIZE)
            written = sum(n for _, _, n in batch)
            total += written
            if on_records:
                on_records(written)
    finally:
        cursor.close()
    return total


def _executemany_records(session: Session, batches: Iterator[list[Span]],
                         payloads: Sequence[bytes],
                         on_records: Callable[[int], None] | None) -> int:
    variants = len(payloads)
    total = 0
    # Core insert on the table: the ORM bulk path costs ~45% more per row (measured on SQLite).
    table: Table = DatasetRecord.__table__  # type: ignore[assignment]
    statement = insert(table)
    for batch in batches:
        rows = [{"dataset_id": ds, "payload": payloads[(start + i) % variants]}
                for ds, start, n in batch for i in range(n)]
        session.execute(statement, rows)
        total += len(rows)
        if on_records:
            on_records(len(rows))
    return total


def insert_records(session: Session, dataset_ids: Sequence[str], per_dataset: int,
                   payloads: Sequence[bytes],
                   on_records: Callable[[int], None] | None = None, *,
                   chunk: int = RECORD_CHUNK) -> int:
    """Insert `per_dataset` records into each dataset, cycling `payloads`; return the count.

    Runs in the session's transaction on either database; `on_records(n)` follows every chunk.
    """
    if not payloads:
        raise ValueError("at least one payload is needed")
    if not dataset_ids or per_dataset <= 0:
        return 0
    batches = spans(dataset_ids, per_dataset, chunk)
    if session.connection().dialect.name == "postgresql":
        return _copy_records(session, batches, dataset_ids, payloads, on_records)
    return _executemany_records(session, batches, payloads, on_records)


def _copy_value(value: Any) -> str:
    """One field in COPY's text format: NULL is `\\N`, bytea goes as escaped hex."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return copy_text(str(value.value))
    return copy_text(str(value))


def insert_keys(session: Session, rows: Iterable[dict[str, Any]], *,
                chunk: int = RECORD_CHUNK) -> int:
    """Insert API key rows (every column of `KEY_COLUMNS`) in chunks; return the count.

    For benchmarks and scale tests that need a million keys in seconds; the rows are taken as
    given (no secret is generated here). Runs in the session's transaction on either database.
    """
    rows = iter(rows)
    total = 0
    postgres = session.connection().dialect.name == "postgresql"
    table: Table = ApiKey.__table__  # type: ignore[assignment]
    cursor = _raw_connection(session).cursor() if postgres else None
    try:
        while batch := list(islice(rows, chunk)):
            if cursor is None:
                session.execute(insert(table), batch)
            else:
                body = "".join("\t".join(_copy_value(row[c]) for c in KEY_COLUMNS) + "\n"
                               for row in batch).encode()
                cursor.copy_expert(COPY_KEYS_SQL, io.BytesIO(body), size=COPY_READ_SIZE)
            total += len(batch)
    finally:
        if cursor is not None:
            cursor.close()
    return total
