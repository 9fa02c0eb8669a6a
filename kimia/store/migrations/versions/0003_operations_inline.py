"""operations: PostgreSQL keeps a row of up to a page as it is (toast_tuple_target 8160)

A purchase's row carries its stored decision and receipt, about 4 kB of JSON. From 2 kB on,
PostgreSQL compressed it (pglz) and moved it to the TOAST table on every insert: a batch of 16
purchases spent 4.4 ms in its writes' round trip, 3.1 ms without (docs/benchmarks.md,
2026-12-06). Rows stay uncompressed in the table (about twice the space for these rows); a row
above a page is still moved out as before. Existing rows are left as they are. SQLite: nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:20:00
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE operations SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE operations RESET (toast_tuple_target)")
