"""the panel's people and their sessions: staff users (argon2id passwords, a role, a club or a
merchant) and server-side sessions of staff and members that logout and disabling revoke

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'panel_users',
        sa.Column('id', ID, nullable=False),
        sa.Column('login', sa.String(100), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('role', sa.String(20), nullable=False),
        sa.Column('club_id', ID, sa.ForeignKey('clubs.id', name='fk_panel_users_club_id_clubs'), nullable=True),
        sa.Column('merchant_id', ID, sa.ForeignKey('merchants.id', name='fk_panel_users_merchant_id_merchants'), nullable=True),
        sa.Column('password_hash', sa.String(200), nullable=False),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.String(100), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_panel_users'),
        sa.UniqueConstraint('login', name='uq_panel_users_login'),
    )
    op.create_index('ix_panel_users_club_id', 'panel_users', ['club_id'])
    op.create_table(
        'panel_sessions',
        sa.Column('id', ID, nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('user_id', ID, sa.ForeignKey('panel_users.id', name='fk_panel_sessions_user_id_panel_users'), nullable=True),
        sa.Column('member_id', ID, sa.ForeignKey('members.id', name='fk_panel_sessions_member_id_members'), nullable=True),
        sa.Column('club_id', sa.BigInteger(), nullable=True),
        sa.Column('csrf_token', sa.String(64), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('last_seen_at', sa.BigInteger(), nullable=False),
        sa.Column('expires_at', sa.BigInteger(), nullable=False),
        sa.Column('revoked_at', sa.BigInteger(), nullable=True),
        sa.Column('address', sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_panel_sessions'),
        sa.UniqueConstraint('token_hash', name='uq_panel_sessions_token_hash'),
    )
    op.create_index('ix_panel_sessions_user_id', 'panel_sessions', ['user_id'])
    op.create_index('ix_panel_sessions_member_id', 'panel_sessions', ['member_id'])


def downgrade() -> None:
    op.drop_table('panel_sessions')
    op.drop_table('panel_users')
