#!/bin/sh
# One-shot: create Temporal's two PostgreSQL databases and bring their schemas to the version the
# `temporalio/admin-tools` image ships (the same as the `temporalio/server` image beside it).
# Safe to run again: an existing database is kept, `setup-schema -v 0.0` leaves a versioned schema
# alone, and `update-schema` applies only the versions not applied yet. An upgrade of the server
# image is therefore: bump both image tags, then run this before the new server starts.
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER to the PostgreSQL role that owns the Temporal databases}"
: "${SQL_PASSWORD:?set SQL_PASSWORD to that role's password}"
DB_PORT="${DB_PORT:-5432}"
TEMPORAL_DB="${TEMPORAL_DB:-temporal}"
VISIBILITY_DB="${VISIBILITY_DB:-temporal_visibility}"
SCHEMA_ROOT="${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

sql_tool() {
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
        -u "$POSTGRES_USER" "$@"
}

attempt=1
until nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"; do
    if [ "$attempt" -ge 30 ]; then
        echo "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT did not answer after $attempt attempts" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
done

for pair in "$TEMPORAL_DB:temporal" "$VISIBILITY_DB:visibility"; do
    db="${pair%%:*}"
    kind="${pair##*:}"
    echo "schema of $db ($kind)"
    sql_tool --db "$db" create
    sql_tool --db "$db" setup-schema -v 0.0
    sql_tool --db "$db" update-schema -d "$SCHEMA_ROOT/$kind/versioned"
done
echo "Temporal schemas are current"
