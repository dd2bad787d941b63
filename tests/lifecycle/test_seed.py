"""`lifecycle seed` run as a real subprocess against both databases, and the bulk loader under it.

The CLI tests start the command exactly as an operator would (`python -m lifecycle.cli seed`)
and then read the database directly: counts must be exact, the printed key must work, and the
secret must not be anywhere in the database.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core import keyformat
from core.settings import Settings
from lifecycle.progress import Progress
from services.seeding import OrgShape, seed_org
from store.base import Base
from store.bulk import insert_records, spans
from store.db import make_engine
from store.models import (
    ApiKey,
    Dataset,
    DatasetRecord,
    Invoice,
    KeyScope,
    Member,
    Organization,
    Project,
    Quota,
)
from tests.conftest import PG_ADMIN_URL

REPO = Path(__file__).resolve().parents[2]
PEPPER = "seed-test-pepper-0123456789abcdef-0123456789"
ORG_LINE = re.compile(r"^org ([0-9a-f]{32})  admin key (olt_[0-9A-Za-z]+)  \(.+\)$")

pytestmark = pytest.mark.slow


def run_seed(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIFECYCLE_DATABASE_URL": db_url, "LIFECYCLE_KEY_PEPPER": PEPPER,
           "LIFECYCLE_DATA_DIR": str(tmp_path / ".lifecycle")}
    return subprocess.run([sys.executable, "-m", "lifecycle.cli", "seed", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def count(engine: Engine, model: type[Base], *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model).where(*where))
                   .scalar_one())


def printed_orgs(stdout: str) -> dict[str, str]:
    """org id -> admin key from the CLI's plain output; every line must be an org line."""
    orgs = {}
    for line in stdout.splitlines():
        match = ORG_LINE.match(line)
        assert match, f"unexpected output line: {line!r}"
        orgs[match[1]] = match[2]
    return orgs


def test_seed_creates_exactly_the_counts_asked_for(db_url: str, engine: Engine,
                                                  tmp_path: Path) -> None:
    result = run_seed(db_url, tmp_path, "--orgs", "2", "--projects", "3", "--datasets", "2",
                      "--records", "7", "--keys", "3", "--members", "4")
    assert result.returncode == 0, result.stderr
    orgs = printed_orgs(result.stdout)
    assert len(orgs) == 2

    assert count(engine, Organization) == 2
    assert count(engine, Project) == 2 * 3
    assert count(engine, Dataset) == 2 * 3 * 2
    assert count(engine, DatasetRecord) == 2 * 3 * 2 * 7
    assert count(engine, ApiKey, ApiKey.scope == KeyScope.TEAM) == 2 * 3
    assert count(engine, Member) == 2 * 4
    for org_id in orgs:
        assert count(engine, Project, Project.org_id == org_id) == 3
        assert count(engine, Dataset, Dataset.org_id == org_id) == 6
        assert count(engine, ApiKey, ApiKey.org_id == org_id, ApiKey.scope == KeyScope.TEAM) == 3
        assert count(engine, Member, Member.org_id == org_id) == 4
    with engine.connect() as conn:
        per_dataset = conn.execute(select(DatasetRecord.dataset_id, func.count())
                                   .group_by(DatasetRecord.dataset_id)).all()
    assert sorted(n for _, n in per_dataset) == [7] * 12
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("seeded 2 orgs: 6 projects, 12 datasets, 84 records, 6 team keys")
    assert "8 members in " in summary


def test_printed_admin_key_authenticates_and_is_stored_nowhere(db_url: str, engine: Engine,
                                                              tmp_path: Path) -> None:
    result = run_seed(db_url, tmp_path, "--orgs", "1", "--projects", "1", "--datasets", "1",
                      "--records", "3", "--keys", "2", "--json")
    assert result.returncode == 0, result.stderr
    (org,) = json.loads(result.stdout)["orgs"]
    secret = org["admin_key"]
    assert keyformat.scope_of(secret) == "team"

    with engine.connect() as conn:
        prefix = secret[:keyformat.PREFIX_LEN]
        row = conn.execute(select(ApiKey).where(ApiKey.prefix == prefix)).one()
        admin = conn.execute(select(Organization.admin_member_id)
                             .where(Organization.id == org["org_id"])).scalar_one()
        assert keyformat.matches(secret, row.secret_hash, PEPPER.encode())
        assert not keyformat.matches(secret, row.secret_hash, b"another-pepper" * 3)
        assert (row.org_id, row.scope, row.created_by) == (org["org_id"], KeyScope.TEAM, admin)

        # The clear secret (or its random part) must not be in any column of any table.
        needles = [secret, secret[keyformat.PREFIX_LEN:]]
        for table in Base.metadata.sorted_tables:
            for values in conn.execute(table.select()):
                for value in values:
                    haystack = value if isinstance(value, str | bytes) else str(value)
                    for needle in needles:
                        found = (needle.encode() in haystack if isinstance(haystack, bytes)
                                 else needle in haystack)
                        assert not found, f"key secret stored in {table.name}"
    assert secret not in result.stderr


@pytest.mark.parametrize(("argv", "flag"), [
    (["--orgs", "0"], "--orgs"),
    (["--records", "-1"], "--records"),
    (["--projects", "abc"], "--projects"),
    (["--keys", "1.5"], "--keys"),
    (["--records", "10000001"], "--records"),
    (["--orgs", "10000", "--projects", "1000", "--datasets", "1000"], "--datasets"),
])
def test_bad_arguments_exit_2_with_one_error_line_and_write_nothing(
        db_url: str, engine: Engine, tmp_path: Path, argv: list[str], flag: str) -> None:
    result = run_seed(db_url, tmp_path, *argv)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("lifecycle seed: error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], result.stderr
    assert flag in errors[0]
    assert all(line == errors[0] or line.startswith("usage: ") for line in lines), result.stderr
    for table in Base.metadata.sorted_tables:
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(table)).scalar_one()
        assert rows == 0, f"{table.name} has rows after a refused seed"


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists but has never been migrated (PostgreSQL) or does not exist yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'lifecycle.db'}"
        return
    name = f"lifecycle_fresh_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def test_seed_migrates_a_fresh_database(fresh_url: str, tmp_path: Path) -> None:
    result = run_seed(fresh_url, tmp_path, "--orgs", "1", "--projects", "2", "--datasets", "2",
                      "--records", "5")
    assert result.returncode == 0, result.stderr
    engine = make_engine(fresh_url)
    try:
        assert count(engine, DatasetRecord) == 20
        (org_id,) = printed_orgs(result.stdout)
        assert count(engine, Organization, Organization.id == org_id) == 1
    finally:
        engine.dispose()


def test_refused_arguments_do_not_create_a_database(tmp_path: Path) -> None:
    path = tmp_path / "never" / "lifecycle.db"
    result = run_seed(f"sqlite:///{path}", tmp_path, "--orgs", "0")
    assert result.returncode == 2
    assert not path.parent.exists()


def _shape_fingerprint(engine: Engine, org_id: str) -> tuple[Any, ...]:
    """What `--seed` fixes for one org: its name and every random choice in its rows."""
    with engine.connect() as conn:
        name = conn.execute(select(Organization.name).where(Organization.id == org_id)).one()
        limits = sorted(conn.execute(select(Quota.limit).where(Quota.org_id == org_id)).scalars())
        amounts = sorted(conn.execute(select(Invoice.amount_cents)
                                      .where(Invoice.org_id == org_id)).scalars())
        zones = sorted(conn.execute(select(Member.timezone)
                                    .where(Member.org_id == org_id)).scalars())
        payloads = sorted(set(conn.execute(
            select(DatasetRecord.payload).join(Dataset)
            .where(Dataset.org_id == org_id)).scalars()))
    return name, limits, amounts, zones, payloads


def test_seed_flag_repeats_the_shape_but_never_the_secrets(db_url: str, engine: Engine,
                                                           tmp_path: Path) -> None:
    args = ["--orgs", "2", "--projects", "1", "--datasets", "2", "--records", "70", "--json"]
    runs = []
    for seed in ["42", "42", "43"]:
        result = run_seed(db_url, tmp_path, *args, "--seed", seed)
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout)["orgs"])
    prints = [[_shape_fingerprint(engine, org["org_id"]) for org in run] for run in runs]
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]
    first, again = runs[0], runs[1]
    assert {o["admin_key"] for o in first}.isdisjoint(o["admin_key"] for o in again)
    assert {o["org_id"] for o in first}.isdisjoint(o["org_id"] for o in again)


def test_insert_records_is_exact_across_chunks_and_keeps_payload_bytes(
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    """COPY text escaping: payloads full of backslashes, tabs and newlines come back intact."""
    payloads = [b"\\\t\n\r\x00\\x41", bytes(range(256)), b"\\\\N", b""]
    ticks: list[int] = []
    with session_factory.begin() as session:
        seeded = seed_org(session, OrgShape(projects=1, datasets_per_project=3,
                                            records_per_dataset=0), settings.pepper_bytes)
        dataset_ids = sorted(session.scalars(select(Dataset.id)
                                             .where(Dataset.org_id == seeded.org_id)))
        written = insert_records(session, dataset_ids, 5, payloads, ticks.append, chunk=4)
    assert written == 15
    assert ticks == [4, 4, 4, 3]
    with session_factory() as session:
        for dataset_id in dataset_ids:
            got = list(session.scalars(select(DatasetRecord.payload)
                                       .where(DatasetRecord.dataset_id == dataset_id)
                                       .order_by(DatasetRecord.id)))
            assert got == [payloads[i % 4] for i in range(5)]


def test_records_roll_back_with_the_callers_transaction(session_factory: sessionmaker[Session],
                                                        settings: Settings) -> None:
    """The bulk path writes on the session's own connection, so a rollback removes the rows."""

    class Abort(Exception):
        pass

    with pytest.raises(Abort), session_factory.begin() as session:
        seed_org(session, OrgShape(projects=1, datasets_per_project=2, records_per_dataset=50),
                 settings.pepper_bytes)
        raise Abort
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DatasetRecord)) == 0
        assert session.scalar(select(func.count()).select_from(Organization)) == 0


def test_spans_cut_datasets_into_exact_chunks() -> None:
    assert list(spans(["a", "b"], 3, 2)) == [[("a", 0, 2)], [("a", 2, 1), ("b", 0, 1)],
                                             [("b", 1, 2)]]
    assert list(spans(["a"], 0, 5)) == []
    with pytest.raises(ValueError):
        list(spans(["a"], 1, 0))


def test_progress_reports_count_and_rate_at_most_once_per_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(100, out, interval=1.0, clock=lambda: now[0])
    now[0] = 0.5
    progress.add(10)
    assert out.getvalue() == ""
    now[0] = 2.0
    progress.add(30)
    now[0] = 2.5
    progress.add(10)
    assert out.getvalue() == "seed: 40/100 records (40%, 20/s)\n"
    assert progress.done == 50
