"""The reminder ledger's org index also holds the status: (org_id, status).

Why: compose and delivery ask for one org's pending (or queued) reminders right after a claim
phase inserted a hundred thousand of them. Planned on statistics taken before that, an index on
org_id alone was combined with a bitmap of *every* pending or queued row, ~19 ms per query at a
million keys. With both columns in one index the plan reads the org's rows only, whatever the
statistics say. It replaces the org_id index (its leading column serves the same lookups).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_org_id_status', ['org_id', 'status'], unique=False)
        batch_op.drop_index(batch_op.f('ix_reminders_org_id'))


def downgrade() -> None:
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminders_org_id'), ['org_id'], unique=False)
        batch_op.drop_index('ix_reminders_org_id_status')
