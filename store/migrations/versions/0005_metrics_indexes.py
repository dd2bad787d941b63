"""Indexes for the business metrics: audit events by action, and partial indexes holding only
the purged-batch ledger rows and the sent reminder digests (see store/business_totals.py).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PURGED_BATCHES = "key LIKE 'records:%'"
SENT_REMINDER_DIGESTS = "status = 'sent' AND idempotency_key LIKE 'kx:%'"


def upgrade() -> None:
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)
    op.create_index('ix_teardown_ledger_purged', 'teardown_ledger', ['count'], unique=False,
                    postgresql_where=sa.text(PURGED_BATCHES),
                    sqlite_where=sa.text(PURGED_BATCHES))
    op.create_index('ix_outbox_reminders_sent', 'outbox', ['channel'], unique=False,
                    postgresql_where=sa.text(SENT_REMINDER_DIGESTS),
                    sqlite_where=sa.text(SENT_REMINDER_DIGESTS))


def downgrade() -> None:
    op.drop_index('ix_outbox_reminders_sent', table_name='outbox')
    op.drop_index('ix_teardown_ledger_purged', table_name='teardown_ledger')
    op.drop_index(op.f('ix_audit_events_action'), table_name='audit_events')
