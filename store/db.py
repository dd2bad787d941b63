"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is opened in WAL mode with a busy timeout so the API and the worker can share one file,
and with foreign keys enforced so the non-cascading keys protect it exactly as on PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Timeouts:
    """How long the database may keep a caller waiting: to connect (or for a pooled
    connection), and for one statement, lock waits included (SQLite: its busy wait)."""

    connect_s: float = 5.0
    statement_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(settings.database_connect_timeout_seconds,
                   settings.database_statement_timeout_seconds)


def _sqlite_pragmas(busy_ms: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, timeouts: Timeouts | None = None, **kwargs: Any) -> Engine:
    """An engine for `url`; creates the SQLite file's directory when it does not exist yet.

    With `timeouts` (the API and the worker) a hung database is given up on: PostgreSQL gets
    `connect_timeout` and a `statement_timeout`, SQLite a busy timeout, and the pool's wait for
    a connection is bounded too; without, a statement may run as long as it needs (migrations).
    """
    parsed = make_url(url)
    if timeouts is not None:
        kwargs.setdefault("pool_timeout", timeouts.connect_s)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        busy_s = timeouts.statement_s if timeouts else SQLITE_BUSY_TIMEOUT_MS / 1000
        engine = create_engine(url, connect_args={"timeout": busy_s}, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_pragmas, int(busy_s * 1000)))
        return engine
    if parsed.drivername == "postgresql":
        # SQLAlchemy 2.1 defaults to psycopg 3; the product ships psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    kwargs.setdefault("pool_pre_ping", True)
    if timeouts is not None:
        connect_args = kwargs.setdefault("connect_args", {})
        # libpq takes whole seconds and treats less than 2 as 2
        connect_args.setdefault("connect_timeout", max(2, math.ceil(timeouts.connect_s)))
        statement_ms = int(timeouts.statement_s * 1000)
        connect_args.setdefault("options", f"-c statement_timeout={statement_ms}")
    return create_engine(parsed, **kwargs)


def settings_engine(settings: Settings, **kwargs: Any) -> Engine:
    """The engine of a server process: the settings' database, with their timeouts."""
    return make_engine(settings.effective_database_url, Timeouts.from_settings(settings),
                       **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def run_outside_transaction(url: str, sql: str) -> None:
    """One statement in autocommit mode on a fresh engine: `CREATE DATABASE` and `DROP
    DATABASE`, which PostgreSQL refuses inside a transaction (the tests and benchmarks make a
    database of their own per run)."""
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def ping(engine: Engine) -> None:
    """Raise when the database does not answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
