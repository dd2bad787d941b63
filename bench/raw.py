"""The raw baselines: what an operator would run by hand to delete an org, in one process.

`delete_org`: dataset records go in batches of the same size the engine uses, each committed on
its own (one giant statement would hold locks and WAL for the whole delete, which no operator
may do on a live database), picked by the same `(dataset_id, id)` keyset; then the small tables
in one transaction, in an order the foreign keys accept. No ledger, no audit, no orchestration:
the difference to the engine's time is exactly what durability costs.

`delete_org_at_once`: the physical limit instead, every record of the org gone in ONE plain
`DELETE` (no batches, no ledger) and then the same small tables. Not something to run on a live
database, but no way of deleting the rows is cheaper, so the engine's purge rate over this one's
says how much of the database's own speed the purge leaves unused.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, text

# Children before parents; every statement takes the org id as :org.
SMALL_TABLES = (
    "DELETE FROM reminders WHERE org_id = :org",
    "DELETE FROM key_tombstones WHERE org_id = :org",
    "DELETE FROM api_keys WHERE org_id = :org",
    "DELETE FROM datasets WHERE org_id = :org",
    "DELETE FROM projects WHERE org_id = :org",
    "DELETE FROM quotas WHERE org_id = :org",
    "DELETE FROM usage_records WHERE org_id = :org",
    "DELETE FROM invoices WHERE org_id = :org",
    "DELETE FROM subscriptions WHERE org_id = :org",
    "DELETE FROM payment_methods WHERE org_id = :org",
    "DELETE FROM members WHERE org_id = :org",
    "DELETE FROM organizations WHERE id = :org",
)
NEXT_BATCH = text("SELECT max(id), count(*) FROM (SELECT id FROM dataset_records "
                  "WHERE dataset_id = :ds AND id > :after ORDER BY id LIMIT :batch) AS ids")
DELETE_ALL = text("DELETE FROM dataset_records WHERE dataset_id IN "
                  "(SELECT id FROM datasets WHERE org_id = :org)")
DELETE_RANGE = text("DELETE FROM dataset_records WHERE dataset_id = :ds AND id > :after "
                    "AND id <= :upper")


def _purge_dataset(conn: Connection, dataset_id: str, batch: int) -> int:
    """The engine's batches: the same probe, and a short batch is the last."""
    deleted, after = 0, 0
    while True:
        params = {"ds": dataset_id, "after": after}
        upper, size = conn.execute(NEXT_BATCH, {**params, "batch": batch}).one()
        if upper is None:
            return deleted
        deleted += conn.execute(DELETE_RANGE, {**params, "upper": upper}).rowcount
        conn.commit()
        if size < batch:
            return deleted
        after = upper


def _delete_small_tables(conn: Connection, org_id: str) -> None:
    for statement in SMALL_TABLES:
        conn.execute(text(statement), {"org": org_id})
    conn.commit()


def delete_org(engine: Engine, org_id: str, batch: int) -> int:
    """Delete the org and all it owns; returns the number of dataset records deleted."""
    records = 0
    with engine.connect() as conn:
        dataset_ids = list(conn.execute(text(
            "SELECT id FROM datasets WHERE org_id = :org ORDER BY id"), {"org": org_id}).scalars())
        conn.commit()
        for dataset_id in dataset_ids:
            records += _purge_dataset(conn, dataset_id, batch)
        _delete_small_tables(conn, org_id)
    return records


def delete_org_at_once(engine: Engine, org_id: str) -> tuple[int, float]:
    """Delete the org's records in one statement, then the small tables; returns the records
    deleted and the seconds the records' statement took with its commit (the purge's
    counterpart), the small tables' time left out of it."""
    with engine.connect() as conn:
        started = time.perf_counter()
        records = conn.execute(DELETE_ALL, {"org": org_id}).rowcount
        conn.commit()
        records_s = time.perf_counter() - started
        _delete_small_tables(conn, org_id)
    return records, records_s
