"""cardholder verification: member PINs, one-time codes, and an opaque account number per member

Members get a club PIN (a scrypt hash) and one-time codes sent to their mobile, so that spending
their value proves they are there (kimia.service.verify). Terminals named members by
``A:<member id>``, a sequential number anyone could guess: every member now has a random account
number (member_identifiers kind ``account``), and an account identifier that was the member id is
replaced by one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 15:05:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'member_pins',
        sa.Column('member_id', ID, nullable=False),
        sa.Column('club_id', sa.BigInteger(), nullable=False),
        sa.Column('pin_hash', sa.String(length=200), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_pins_member_id_members')),
        sa.PrimaryKeyConstraint('member_id', name=op.f('pk_member_pins')),
    )
    op.create_table(
        'member_codes',
        sa.Column('id', ID, nullable=False),
        sa.Column('club_id', sa.BigInteger(), nullable=False),
        sa.Column('member_id', ID, nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.BigInteger(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('used_at', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_codes_member_id_members')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_member_codes')),
    )
    with op.batch_alter_table('member_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_codes_member_id'), ['member_id'], unique=False)
    _account_numbers()


def _account_numbers() -> None:
    """Every member gets a random account number; one equal to the member id is replaced."""
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM member_identifiers WHERE kind = 'account' AND lookup = CAST(member_id AS VARCHAR(100))"))
    members = conn.execute(sa.text(
        "SELECT m.id, m.club_id, m.created_at FROM members m WHERE NOT EXISTS (SELECT 1 FROM member_identifiers i WHERE i.member_id = m.id AND i.kind = 'account')")).fetchall()
    roots: dict[int, int | None] = dict(conn.execute(sa.text("SELECT id, parent_id FROM clubs")).fetchall())
    taken = {row[0] for row in conn.execute(sa.text("SELECT lookup FROM member_identifiers WHERE kind = 'account'"))}
    for member_id, club_id, created_at in members:
        root = club_id
        while roots.get(root) is not None:
            root = roots[root]
        number = _new_number(taken)
        conn.execute(sa.text("INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at)"
                             " VALUES (:club, :member, 'account', :n, :n, :at)"),
                     {"club": root, "member": member_id, "n": number, "at": created_at})


def _new_number(taken: set[str]) -> str:
    while True:
        number = str(10**11 + secrets.randbelow(9 * 10**11))
        if number not in taken:
            taken.add(number)
            return number


def downgrade() -> None:
    with op.batch_alter_table('member_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_codes_member_id'))
    op.drop_table('member_codes')
    op.drop_table('member_pins')
