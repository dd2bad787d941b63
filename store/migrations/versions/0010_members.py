"""Members: invitations by mail, a member's status, and the removal requests offboarding acts on.

- `members.status` (active | removing): a member being removed is refused at the key check.
- `member_invitations`: an invited address, its role, the HMAC of its single-use token, expiry.
- `member_removal_requests`: the row a member offboarding acts on (at most one pending or
  running per member), kept after the org is gone.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('member_removal_requests',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.String(length=100), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_removal_requests'))
    )
    with op.batch_alter_table('member_removal_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_removal_requests_org_id'), ['org_id'], unique=False)
        batch_op.create_index('uq_member_removal_requests_live', ['member_id'], unique=True, postgresql_where=sa.text("status IN ('pending', 'running')"), sqlite_where=sa.text("status IN ('pending', 'running')"))

    op.create_table('member_invitations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('invited_by', sa.String(length=100), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('member_id', sa.String(length=32), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'member')", name=op.f('ck_member_invitations_role_known')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_member_invitations_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_member_invitations_token_hash'))
    )
    with op.batch_alter_table('member_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_invitations_org_id'), ['org_id'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('active', 'removing', name='member_status', native_enum=False, length=32), server_default='active', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('status')

    with op.batch_alter_table('member_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_invitations_org_id'))

    op.drop_table('member_invitations')
    with op.batch_alter_table('member_removal_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_member_removal_requests_live', postgresql_where=sa.text("status IN ('pending', 'running')"), sqlite_where=sa.text("status IN ('pending', 'running')"))
        batch_op.drop_index(batch_op.f('ix_member_removal_requests_org_id'))

    op.drop_table('member_removal_requests')
