"""referral codes: a member's code, made on first ask, that a newcomer names at enrolment

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'referral_codes',
        sa.Column('member_id', ID, sa.ForeignKey('members.id', name='fk_referral_codes_member_id_members'), nullable=False),
        sa.Column('club_id', sa.BigInteger(), nullable=False),
        sa.Column('code', sa.String(16), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('member_id', name='pk_referral_codes'),
        sa.UniqueConstraint('club_id', 'code', name='uq_referral_codes_club_id'),
    )


def downgrade() -> None:
    op.drop_table('referral_codes')
