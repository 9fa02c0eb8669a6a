"""card key ids, last-4 masks, an append-only journal and a hash-chained, masked audit log

- ``member_identifiers.key_id``: the id of the key a card's hash was made with, so keys can be
  rotated (kimia.service.cardkeys). NULL for existing rows: their key is not known here (a card
  found later is stamped, or re-hashed, by the next write that meets it).
- Stored masks keep the last 4 digits only: card displays ``603799******7893`` become
  ``************7893``, and club card numbers, stored in clear until now, get a masked display
  (their lookup stays in clear until ``kimia rehash-cards`` hashes it: that needs the key, which a
  migration does not have). Enrolment answers stored in ``operations`` are masked the same way.
- ``audit_log``: rows written before are masked (a card number or a member reference written in
  clear by an adjustment), then chained: ``chain_hash`` (kimia.service.audit).
- Triggers refuse UPDATE and DELETE (PostgreSQL: also TRUNCATE) of ``journal`` and ``audit_log``
  rows, on both databases. A later migration that rebuilds either table on SQLite (batch mode)
  must create its triggers again (``create_append_only``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

from kimia.store import append_only

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_REF = re.compile(r"MemberRef\(kind='(card|club_card|national_code)', value='([^']*)'\)")


def create_append_only(bind: Any) -> None:
    """Triggers that refuse to change or remove rows of the journal and the audit log."""
    for statement in append_only.create_statements(bind.dialect.name):
        op.execute(statement)


def drop_append_only(bind: Any) -> None:
    for statement in append_only.drop_statements(bind.dialect.name):
        op.execute(statement)


def _last4(display: str) -> str:
    digits = display[-4:]
    return "*" * max(len(display) - 4, 4) + digits


def _mask_identifiers(bind: Any) -> None:
    rows = bind.execute(sa.text("SELECT id, display FROM member_identifiers WHERE kind IN ('card', 'club_card')")).fetchall()
    for row_id, display in rows:
        bind.execute(sa.text("UPDATE member_identifiers SET display = :d WHERE id = :i"), {"d": _last4(display), "i": row_id})
    enrolments = bind.execute(sa.text("SELECT id, response FROM operations WHERE kind = 'enroll'")).fetchall()
    for op_id, response in enrolments:
        data = response if isinstance(response, dict) else json.loads(response or "{}")
        changed = False
        for item in data.get("identifiers", []):
            if item.get("kind") in ("card", "club_card") and not str(item.get("display", "")).startswith("*"):
                item["display"] = _last4(str(item["display"]))
                changed = True
        if changed:
            bind.execute(sa.text("UPDATE operations SET response = :r WHERE id = :i"),
                         {"r": json.dumps(data, ensure_ascii=False), "i": op_id})


def _chain_audit_log(bind: Any) -> None:
    from kimia.service.audit import link, prepare

    def unref(text: str) -> str:
        return _REF.sub(lambda m: f"MemberRef(kind='{m.group(1)}', value='{_last4(m.group(2))}')", text)

    prev = ""
    rows = bind.execute(sa.text("SELECT id, club_id, actor, action, reason, payload, at FROM audit_log ORDER BY id")).fetchall()
    for row_id, club_id, actor, action, reason, payload, at in rows:
        data = payload if not isinstance(payload, str) else json.loads(payload or "{}")
        data = json.loads(unref(json.dumps(data, ensure_ascii=False)))
        actor, reason, data = prepare(unref(actor), unref(reason), data)
        prev = link(prev, club_id, actor, action, reason, data, int(at))
        bind.execute(sa.text("UPDATE audit_log SET actor = :a, reason = :r, payload = :p, chain_hash = :h WHERE id = :i"),
                     {"a": actor, "r": reason, "p": json.dumps(data, ensure_ascii=False), "h": prev, "i": row_id})


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('member_identifiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
    _mask_identifiers(bind)
    _chain_audit_log(bind)
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('chain_hash', existing_type=sa.String(length=64), nullable=False)
    create_append_only(bind)


def downgrade() -> None:
    bind = op.get_bind()
    drop_append_only(bind)
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('chain_hash')
    with op.batch_alter_table('member_identifiers', schema=None) as batch_op:
        batch_op.drop_column('key_id')
