"""Service permissions per member and service, and the audit log's newest-first index.

A missing permission row means the member may use the service; a row says on or off.
The `(org_id, id)` index lets the audit log read one org's events newest first from a cursor.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'service_permissions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('member_id', sa.String(length=32), nullable=False),
        sa.Column('service', sa.String(length=32), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_service_permissions_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_permissions')),
        sa.UniqueConstraint('member_id', 'service',
                            name='uq_service_permissions_member_service'),
    )
    op.create_index(op.f('ix_service_permissions_org_id'), 'service_permissions', ['org_id'],
                    unique=False)
    op.create_index('ix_audit_events_org_id_id', 'audit_events', ['org_id', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_org_id_id', table_name='audit_events')
    op.drop_index(op.f('ix_service_permissions_org_id'), table_name='service_permissions')
    op.drop_table('service_permissions')
