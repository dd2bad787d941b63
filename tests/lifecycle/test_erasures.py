"""The restore drill on PostgreSQL: back up two orgs, tear one down, restore the backup (the
deleted org is back, with its records), then `lifecycle erasures reapply` deletes it again from
the erasure ledger, found gone by walking the live schema's foreign keys; the other org is
untouched. Real pg_dump and psql, real Temporal, the real worker."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from temporalio.testing import WorkflowEnvironment

import store.models  # noqa: F401  (every table on the metadata)
from clients.teardown import start_teardown
from core.settings import Settings
from core.signing import verify
from lifecycle.cli import main
from services.seeding import OrgShape, seed_org
from services.teardown import recorded_input
from store.base import Base
from store.db import make_engine, make_session_factory
from store.plan import owned_counts
from store.teardown import certificate_of
from tests.support.leftovers import fk_leftovers
from tests.support.teardown_support import teardown_worker

SHAPE = OrgShape(projects=2, datasets_per_project=2, records_per_dataset=5, members=2,
                 team_keys=1)


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables)))


async def test_reapply_deletes_again_what_a_restored_backup_brought_back(
        time_skipping_env: WorkflowEnvironment, postgres_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)
    _empty(engine)
    ledger = tmp_path / "erasures"
    settings = Settings(database_url=postgres_url, data_dir=tmp_path / ".lifecycle",
                        erasure_ledger_dir=str(ledger))
    try:
        with sessions.begin() as session:
            gone = seed_org(session, SHAPE, settings.pepper_bytes)
            kept = seed_org(session, SHAPE, settings.pepper_bytes)
        with sessions() as session:
            kept_before = owned_counts(session, kept.org_id)
        backup = tmp_path / "backup.sql"
        subprocess.run(["pg_dump", "--data-only", "--disable-triggers",
                        "--exclude-table=alembic_version", "--file", str(backup),
                        postgres_url], check=True)

        client = time_skipping_env.client
        async with teardown_worker(client, settings, sessions) as queue:
            handle = await start_teardown(client, settings, recorded_input(
                settings, gone.org_id, f"member:{gone.admin_member_id}", 0), queue)
            await handle.result()
        entry = (ledger / f"{gone.org_id}.json").read_bytes()
        assert verify(entry, settings.certificate_keys)[0]["org_id"] == gone.org_id

        # the restore: yesterday's backup brings the deleted org back, with its records
        _empty(engine)
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(backup),
                        postgres_url], check=True, stdout=subprocess.DEVNULL)
        assert fk_leftovers(engine, gone.org_id)["dataset_records"] == 2 * 2 * 5
        with sessions() as session:
            assert certificate_of(session, gone.org_id) is None

        monkeypatch.setenv("LIFECYCLE_DATABASE_URL", postgres_url)
        monkeypatch.setenv("LIFECYCLE_ERASURE_LEDGER_DIR", str(ledger))
        monkeypatch.setenv("LIFECYCLE_DATA_DIR", str(tmp_path / ".lifecycle"))
        capsys.readouterr()
        assert main(["erasures", "reapply", "--dry-run"]) == 0
        assert f"{gone.org_id}: back in the database" in capsys.readouterr().out
        assert fk_leftovers(engine, gone.org_id)["dataset_records"] == 2 * 2 * 5
        assert main(["erasures", "reapply"]) == 0
        out = capsys.readouterr().out
        assert f"{gone.org_id}: purged again" in out and "dataset_records=20" in out

        assert fk_leftovers(engine, gone.org_id) == {}
        with sessions() as session:
            assert owned_counts(session, kept.org_id) == kept_before
            restored = certificate_of(session, gone.org_id)
        assert restored is not None and restored.signed is not None  # the quarantine holds
        assert main(["erasures", "reapply"]) == 0
        assert "0 org(s) back" in capsys.readouterr().out

        # a changed entry is refused and deletes nothing
        (ledger / f"{kept.org_id}.json").write_bytes(entry.replace(
            gone.org_id.encode(), kept.org_id.encode()))
        assert main(["erasures", "reapply"]) == 1
        assert f"{kept.org_id}: entry NOT VALID" in capsys.readouterr().out
        with sessions() as session:
            assert owned_counts(session, kept.org_id) == kept_before
    finally:
        _empty(engine)
        engine.dispose()
