"""Signed certificates, essential contacts, and the lookup behind the name quarantine.

Both deletion certificates keep the signed document they were issued as (NULL for those issued
before signing, or without a signing key). `org_contacts` holds an org's technical, billing and
security addresses (org-owned: the teardown removes them). The index on the org certificate's
name hash lets an org's creation find a recently deleted org of the same name.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deletion_certificates') as batch:
        batch.add_column(sa.Column('signed', sa.Text(), nullable=True))
    with op.batch_alter_table('project_deletion_certificates') as batch:
        batch.add_column(sa.Column('signed', sa.Text(), nullable=True))
    op.create_index('ix_deletion_certificates_org_name_hash', 'deletion_certificates',
                    ['org_name_hash'], unique=False)
    op.create_table(
        'org_contacts',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('added_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('technical', 'billing', 'security')",
                           name=op.f('ck_org_contacts_kind_known')),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_org_contacts_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_org_contacts')),
        sa.UniqueConstraint('org_id', 'kind', 'email', name='uq_org_contacts_org_kind_email'),
    )
    op.create_index(op.f('ix_org_contacts_org_id'), 'org_contacts', ['org_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_org_contacts_org_id'), table_name='org_contacts')
    op.drop_table('org_contacts')
    op.drop_index('ix_deletion_certificates_org_name_hash', table_name='deletion_certificates')
    with op.batch_alter_table('project_deletion_certificates') as batch:
        batch.drop_column('signed')
    with op.batch_alter_table('deletion_certificates') as batch:
        batch.drop_column('signed')
