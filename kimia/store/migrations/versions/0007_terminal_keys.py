"""terminals: MAC keys encrypted under the key-encryption key, with a version and check value

Adds ``mac_key_enc`` (the key under the KEK, kimia/terminal/keys.py), ``mac_key_version``,
``mac_key_kcv`` and the previous key of a key change (``mac_key_prev_enc`` until
``mac_key_prev_until``), encrypts every clear key of ``mac_key_hex`` and drops that column, so a
database dump holds no usable terminal key. The KEK comes from the settings
(``KIMIA_TERMINAL_KEK`` or ``KIMIA_TERMINAL_KEK_FILE``); without one, a database with clear keys is
not migrated (``terminal_kek_missing``) unless ``KIMIA_DEV_MODE=1`` (the development KEK).
Downgrade decrypts the keys back into ``mac_key_hex`` (it needs the KEK too).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from kimia.terminal.keys import kcv, load_kek, wrap

    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("mac_key_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("mac_key_version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("mac_key_kcv", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("mac_key_prev_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("mac_key_prev_until", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, terminal_code, merchant_code, mac_key_hex FROM terminals"
                                " WHERE mac_key_hex IS NOT NULL")).all()
    if rows:
        kek = load_kek()  # raises terminal_kek_missing: clear keys are never left behind
        for row_id, terminal_code, merchant_code, key_hex in rows:
            key = bytes.fromhex(key_hex)
            bind.execute(sa.text("UPDATE terminals SET mac_key_enc = :enc, mac_key_version = 1, mac_key_kcv = :kcv WHERE id = :id"),
                         {"enc": wrap(kek, key, terminal_code, merchant_code), "kcv": kcv(key), "id": row_id})
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("mac_key_hex")
        batch.alter_column("mac_key_version", server_default=None)


def downgrade() -> None:
    from kimia.terminal.keys import load_kek, unwrap

    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("mac_key_hex", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, terminal_code, merchant_code, mac_key_enc FROM terminals"
                                " WHERE mac_key_enc IS NOT NULL")).all()
    if rows:
        kek = load_kek()
        for row_id, terminal_code, merchant_code, stored in rows:
            bind.execute(sa.text("UPDATE terminals SET mac_key_hex = :key WHERE id = :id"),
                         {"key": unwrap(kek, stored, terminal_code, merchant_code).hex(), "id": row_id})
    with op.batch_alter_table("terminals") as batch:
        for column in ("mac_key_prev_until", "mac_key_prev_enc", "mac_key_kcv", "mac_key_version", "mac_key_enc"):
            batch.drop_column(column)
