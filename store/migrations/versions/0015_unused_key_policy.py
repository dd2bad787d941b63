"""The org's key policy for unused keys: revoke keys nobody used for N days (NULL: never).

The key-expiry sweep reads it (core.key_policy): a notice a week before, then the revocation.
No index: the sweep reads the few orgs that set it by their primary key order and their keys
by `ix_api_keys_org_id`.

Revision ID: 0015_unused_key_policy
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_unused_key_policy'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('revoke_unused_keys_after_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('revoke_unused_keys_after_days')
