"""the notification outbox: outbox_events (one row per event, written in the transaction that
caused it; uid is the event's stable id) and outbox_deliveries (one row per event, channel and
target, kept by the delivery worker with its attempts and back-off)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('uid', sa.String(200), nullable=False),
        sa.Column('event', sa.String(60), nullable=False),
        sa.Column('club_id', sa.BigInteger(), nullable=False),
        sa.Column('member_id', sa.BigInteger(), nullable=True),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('dispatched_at', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_outbox_events'),
        sa.UniqueConstraint('uid', name='uq_outbox_events_uid'),
    )
    op.create_index('ix_outbox_events_waiting', 'outbox_events', ['id'], postgresql_where=sa.text('dispatched_at IS NULL'),
                    sqlite_where=sa.text('dispatched_at IS NULL'))
    op.create_table(
        'outbox_deliveries',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('club_id', sa.BigInteger(), nullable=False),
        sa.Column('channel', sa.String(40), nullable=False),
        sa.Column('target', sa.String(200), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_at', sa.BigInteger(), nullable=False),
        sa.Column('lease_until', sa.BigInteger(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('sent_at', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_outbox_deliveries'),
        sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name='fk_outbox_deliveries_event_id_outbox_events'),
        sa.UniqueConstraint('event_id', 'channel', 'target', name='uq_outbox_deliveries_event_id'),
    )
    op.create_index('ix_outbox_deliveries_due', 'outbox_deliveries', ['status', 'next_at'])
    op.create_index('ix_outbox_deliveries_club', 'outbox_deliveries', ['club_id', 'status'])
    # The plugins' record outlives a downgrade below this revision (their tables do too: they are
    # the plugins', not kimia's), so an upgrade finds it again rather than making it anew.
    if sa.inspect(op.get_bind()).has_table('plugin_migrations'):
        return
    op.create_table(
        'plugin_migrations',
        sa.Column('plugin', sa.String(100), nullable=False),
        sa.Column('revision', sa.String(100), nullable=False),
        sa.Column('applied_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('plugin', 'revision', name='pk_plugin_migrations'),
    )


def downgrade() -> None:
    # plugin_migrations stays with the plugins' tables (see upgrade).
    op.drop_index('ix_outbox_deliveries_club', 'outbox_deliveries')
    op.drop_index('ix_outbox_deliveries_due', 'outbox_deliveries')
    op.drop_table('outbox_deliveries')
    op.drop_index('ix_outbox_events_waiting', 'outbox_events')
    op.drop_table('outbox_events')
