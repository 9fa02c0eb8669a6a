"""the dashboard's per-day aggregate: club_days (club, local day, metric) -> count, amount, written
by the posting path with each run's operations and journal legs; backfilled here from the
operations and the journal (kimia.service.daily.rebuild_daily_tx)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:30:00

(The members helper adds 0014; until it is merged this revises 0013 — the lead re-chains it.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'club_days',
        sa.Column('club_id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Integer(), nullable=False),
        sa.Column('metric', sa.String(80), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('club_id', 'day', 'metric', name='pk_club_days'),
    )
    from kimia.service.daily import rebuild_daily_tx
    from kimia.service.sql import Tx

    bind = op.get_bind()
    rebuild_daily_tx(Tx(bind.connection.driver_connection))


def downgrade() -> None:
    op.drop_table('club_days')
