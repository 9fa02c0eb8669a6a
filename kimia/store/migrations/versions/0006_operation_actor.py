"""operations.actor: who made each operation (a terminal, an API key, a panel user)

Tenancy (issue 13): a refund row recorded no terminal, and nothing recorded which API key or user
made an operation. Existing rows keep NULL (who made them is not known); their RRNs stay as they
are (new operations without a terminal's field 37 get a random one).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("actor", sa.String(length=100), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN on both databases (SQLite has it since 3.35): the batch mode's copy of the
    # table would drop ``operations`` itself, which the journal's foreign keys forbid.
    op.drop_column("operations", "actor")
