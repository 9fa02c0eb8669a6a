"""period_closes: a tier period close is recorded before it starts, and closes each member once

``Kimia.close_period`` read every member's period points outside its write, zeroed them in a later
transaction (points earned in between vanished from the period) and posted the deductions as
separate operations after the close (a crash between them lost them: a rerun was refused as
``period_already_closed``). A close now writes a ``period_closes`` row first, then closes members
in chunks, each one transaction with its deductions; a rerun resumes an unfinished close. Each
member gets at most one ``tier_history`` row per close (a unique constraint). Closes made before
this revision are recorded as done from their ``tier_history`` rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('period_closes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('club_id', sa.BigInteger(), nullable=False),
    sa.Column('period_end', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('last_member_id', sa.BigInteger(), nullable=False),
    sa.Column('members_total', sa.BigInteger(), nullable=False),
    sa.Column('members_done', sa.BigInteger(), nullable=False),
    sa.Column('done_through', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('finished_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period_closes')),
    sa.UniqueConstraint('club_id', 'period_end', name=op.f('uq_period_closes_club_id'))
    )
    with op.batch_alter_table('tier_history', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_tier_history_club_id'), ['club_id', 'period_end', 'member_id'])
    # Earlier closes were one transaction each: record them as done.
    empty = "CAST('{}' AS JSON)" if op.get_bind().dialect.name == "postgresql" else "'{}'"
    op.execute(
        "INSERT INTO period_closes (club_id, period_end, status, config, last_member_id, members_total, members_done,"
        f" done_through, actor, started_at, finished_at) SELECT club_id, period_end, 'done', {empty}, MAX(member_id), COUNT(*),"
        " COUNT(*), MAX(member_id), 'system', period_end, period_end FROM tier_history GROUP BY club_id, period_end"
    )


def downgrade() -> None:
    with op.batch_alter_table('tier_history', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_tier_history_club_id'), type_='unique')
    op.drop_table('period_closes')
