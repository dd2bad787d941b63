"""The web console's sign-in: mailed single-use links, sessions, and the rate limiter's rows.

Links and sessions hold only keyed hashes of their secrets; attempts hold a keyed hash of the
address or client they count, never the address.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'console_sign_in_links',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('member_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_console_sign_in_links_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sign_in_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_console_sign_in_links_token_hash')),
    )
    op.create_index(op.f('ix_console_sign_in_links_org_id'), 'console_sign_in_links',
                    ['org_id'], unique=False)
    op.create_index(op.f('ix_console_sign_in_links_member_id'), 'console_sign_in_links',
                    ['member_id'], unique=False)
    op.create_table(
        'console_sessions',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('id_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('member_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_console_sessions_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sessions')),
        sa.UniqueConstraint('id_hash', name=op.f('uq_console_sessions_id_hash')),
    )
    op.create_index(op.f('ix_console_sessions_org_id'), 'console_sessions', ['org_id'],
                    unique=False)
    op.create_index(op.f('ix_console_sessions_member_id'), 'console_sessions', ['member_id'],
                    unique=False)
    op.create_table(
        'console_sign_in_attempts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('bucket', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sign_in_attempts')),
    )
    op.create_index('ix_console_sign_in_attempts_bucket_at', 'console_sign_in_attempts',
                    ['bucket', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_console_sign_in_attempts_bucket_at',
                  table_name='console_sign_in_attempts')
    op.drop_table('console_sign_in_attempts')
    for table in ('console_sessions', 'console_sign_in_links'):
        op.drop_index(op.f(f'ix_{table}_member_id'), table_name=table)
        op.drop_index(op.f(f'ix_{table}_org_id'), table_name=table)
        op.drop_table(table)
