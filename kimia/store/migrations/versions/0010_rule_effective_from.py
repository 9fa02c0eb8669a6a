"""rule sets take effect at a time: ``rule_sets.effective_from``

A rule set version is published with the moment it takes effect (default: when it is published);
the service uses the newest version whose moment has come (kimia.service.context). Versions
published before this revision took effect when they were published: ``created_at``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rule_sets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_from', sa.BigInteger(), nullable=True))
    op.execute("UPDATE rule_sets SET effective_from = created_at")
    with op.batch_alter_table('rule_sets', schema=None) as batch_op:
        batch_op.alter_column('effective_from', existing_type=sa.BigInteger(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('rule_sets', schema=None) as batch_op:
        batch_op.drop_column('effective_from')
