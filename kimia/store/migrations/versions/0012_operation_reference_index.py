"""operations by reference: an index on (reference, club_id)

A refund names its sale by its reference (the RRN kimia gave, or the caller's own), and every batch
of purchases that get an RRN from kimia (the API's) checks that its fresh RRNs are not taken.
Without an index each of these read the club's every operation: on SQLite a batch of API purchases
spent 22 ms of its writer's time in that check on a club of 15,000 operations (docs/benchmarks.md,
The JSON API). The reference leads, as in migration 0002: an index led by club_id made PostgreSQL
look a batch's idempotency keys up through it before the table's statistics caught up. The index
on the reference alone (0001) is a prefix of the new one and goes: SQLite preferred the unique
index led by club_id to it for ``club_id = ? AND reference IN (...)``, which is what read every
operation.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 20:25:00
"""

from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_operations_reference_club', 'operations', ['reference', 'club_id'])
    op.drop_index('ix_operations_reference', table_name='operations')


def downgrade() -> None:
    op.create_index('ix_operations_reference', 'operations', ['reference'])
    op.drop_index('ix_operations_reference_club', table_name='operations')
