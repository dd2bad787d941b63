"""Projects, datasets and billing for the console: project status and deletion requests,
per-dataset record counts, subscription idempotency keys, usage billed by an invoice.

- `projects.status` (active | frozen | deleting) and unique names per org; datasets get a
  stored `record_count` and unique names per project.
- `project_deletion_requests` (the row a project deletion acts on; at most one pending or
  running per project) and `project_deletion_certificates`, both kept after the org is gone.
- `subscriptions.create_key`: the idempotency key of the subscribe call that made the row.
- `usage_records.invoice_id`: usage without one is outstanding (a teardown blocker); the org
  index becomes (org_id, recorded_at) for the usage page's month filter.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('project_deletion_certificates',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('project_id', sa.String(length=32), nullable=False),
    sa.Column('project_name_hash', sa.String(length=64), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.String(length=100), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('verification', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_deletion_certificates')),
    sa.UniqueConstraint('request_id', name=op.f('uq_project_deletion_certificates_request_id'))
    )
    with op.batch_alter_table('project_deletion_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_deletion_certificates_org_id'), ['org_id'], unique=False)

    op.create_table('project_deletion_requests',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('project_id', sa.String(length=32), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('grace_seconds', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'cancelled', 'completed', 'failed', name='project_deletion_status', native_enum=False, length=32), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.String(length=100), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_deletion_requests'))
    )
    with op.batch_alter_table('project_deletion_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_deletion_requests_org_id'), ['org_id'], unique=False)
        batch_op.create_index('uq_project_deletion_requests_live', ['project_id'], unique=True, postgresql_where=sa.text("status IN ('pending', 'running')"), sqlite_where=sa.text("status IN ('pending', 'running')"))

    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_count', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_unique_constraint('uq_datasets_project_name', ['project_id', 'name'])

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('active', 'frozen', 'deleting', name='project_status', native_enum=False, length=32), server_default='active', nullable=False))
        batch_op.create_unique_constraint('uq_projects_org_name', ['org_id', 'name'])

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('create_key', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint('uq_subscriptions_org_create_key', ['org_id', 'create_key'])

    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoice_id', sa.String(length=32), nullable=True))
        batch_op.drop_index(batch_op.f('ix_usage_records_org_id'))
        batch_op.create_index(batch_op.f('ix_usage_records_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_usage_records_org_id_recorded_at', ['org_id', 'recorded_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_usage_records_invoice_id_invoices'), 'invoices', ['invoice_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_usage_records_invoice_id_invoices'), type_='foreignkey')
        batch_op.drop_index('ix_usage_records_org_id_recorded_at')
        batch_op.drop_index(batch_op.f('ix_usage_records_invoice_id'))
        batch_op.create_index(batch_op.f('ix_usage_records_org_id'), ['org_id'], unique=False)
        batch_op.drop_column('invoice_id')

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_subscriptions_org_create_key', type_='unique')
        batch_op.drop_column('create_key')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_constraint('uq_projects_org_name', type_='unique')
        batch_op.drop_column('status')

    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_constraint('uq_datasets_project_name', type_='unique')
        batch_op.drop_column('record_count')

    with op.batch_alter_table('project_deletion_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_project_deletion_requests_live', postgresql_where=sa.text("status IN ('pending', 'running')"), sqlite_where=sa.text("status IN ('pending', 'running')"))
        batch_op.drop_index(batch_op.f('ix_project_deletion_requests_org_id'))

    op.drop_table('project_deletion_requests')
    with op.batch_alter_table('project_deletion_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_deletion_certificates_org_id'))

    op.drop_table('project_deletion_certificates')
