"""the JSON API: its keys (stored hashed) and the answers it keeps under Idempotency-Key

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'api_keys',
        sa.Column('id', ID, primary_key=True),
        sa.Column('public_id', sa.String(24), nullable=False),
        sa.Column('secret_hash', sa.String(64), nullable=False),
        sa.Column('kind', sa.String(12), nullable=False),
        sa.Column('club_id', ID, sa.ForeignKey('clubs.id', name='fk_api_keys_club_id_clubs')),
        sa.Column('merchant_id', ID, sa.ForeignKey('merchants.id', name='fk_api_keys_merchant_id_merchants')),
        sa.Column('branch_id', ID, sa.ForeignKey('branches.id', name='fk_api_keys_branch_id_branches')),
        sa.Column('member_id', ID, sa.ForeignKey('members.id', name='fk_api_keys_member_id_members')),
        sa.Column('label', sa.String(200), nullable=False),
        sa.Column('rate_per_min', sa.Integer()),
        sa.Column('created_by', sa.String(100), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('expires_at', sa.BigInteger()),
        sa.Column('revoked_at', sa.BigInteger()),
        sa.Column('last_used_at', sa.BigInteger()),
        sa.PrimaryKeyConstraint('id', name='pk_api_keys'),
        sa.UniqueConstraint('public_id', name='uq_api_keys_public_id'),
    )
    op.create_index('ix_api_keys_club_id', 'api_keys', ['club_id'])
    op.create_table(
        'api_requests',
        sa.Column('key_id', ID, sa.ForeignKey('api_keys.id', name='fk_api_requests_key_id_api_keys'), nullable=False),
        sa.Column('idem_key', sa.String(128), nullable=False),
        sa.Column('request_hash', sa.String(64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('response', sa.Text()),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('lease_until', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('key_id', 'idem_key', name='pk_api_requests'),
    )


def downgrade() -> None:
    op.drop_table('api_requests')
    op.drop_index('ix_api_keys_club_id', table_name='api_keys')
    op.drop_table('api_keys')
