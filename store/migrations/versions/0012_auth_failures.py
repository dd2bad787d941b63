"""Failed authentications counted for throttling, and the rows destructive workflows act on.

- `auth_failures`: one row per failed authentication per bucket (a keyed hash of the client's
  address or of the key prefix tried), shared by every API replica.
- `teardown_requests`: the request an org teardown acts on (written by the API after its
  checks; at most one pending or running per org), kept after the org is gone.
- `project_deletion_requests.min_grace_seconds`: the minimum grace window the request was
  made under (expedite is refused before it has passed).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

LIVE = "status IN ('pending', 'running')"
STATUS = sa.Enum('pending', 'running', 'cancelled', 'completed', 'failed',
                 name='request_status', native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        'auth_failures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('bucket', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_failures')),
    )
    op.create_index('ix_auth_failures_bucket_at', 'auth_failures', ['bucket', 'created_at'],
                    unique=False)
    op.create_table(
        'teardown_requests',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('requested_by', sa.String(length=100), nullable=False),
        sa.Column('grace_seconds', sa.Integer(), nullable=False),
        sa.Column('min_grace_seconds', sa.Integer(), server_default='0', nullable=False),
        sa.Column('status', STATUS, nullable=False),
        sa.Column('workflow_id', sa.String(length=200), nullable=False),
        sa.Column('run_id', sa.String(length=100), nullable=True),
        sa.Column('detail', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_teardown_requests')),
    )
    op.create_index(op.f('ix_teardown_requests_org_id'), 'teardown_requests', ['org_id'],
                    unique=False)
    op.create_index('uq_teardown_requests_live', 'teardown_requests', ['org_id'], unique=True,
                    postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))
    with op.batch_alter_table('project_deletion_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_grace_seconds', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('project_deletion_requests', schema=None) as batch_op:
        batch_op.drop_column('min_grace_seconds')
    op.drop_index('uq_teardown_requests_live', table_name='teardown_requests')
    op.drop_index(op.f('ix_teardown_requests_org_id'), table_name='teardown_requests')
    op.drop_table('teardown_requests')
    op.drop_index('ix_auth_failures_bucket_at', table_name='auth_failures')
    op.drop_table('auth_failures')
