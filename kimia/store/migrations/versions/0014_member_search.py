"""the panel's member search: the words of members' names, normalised, under their root club
(member_search_words, by prefix through its primary key), and identifiers by their display mask
(a card's last 4: ix_member_identifiers_display)

With a million members the search box must answer within 50 ms (issue 16): every way it finds a
member is an index range or an exact key: a mobile, a national code, a club card or an account by
member_identifiers' unique (club_id, kind, lookup); a bank or club card's last 4 by the new index on
(club_id, kind, display) (the display is the mask, one ``*`` per hidden digit, so the last 4 are a
handful of exact values); a name by the prefix of any of its words. The words are written where a
member is written (kimia.service.search_keys); existing members' words are made here.

PostgreSQL keeps the words in byte order (collation "C") so that a prefix is a range of the index
whatever the database's own collation.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 5_000
# kimia.service.search_keys as of this revision (a migration keeps its own copy: it must make the
# same words whatever that module becomes).
_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "\u200d": None, "\u0640": None, "\u200f": None, "\u200e": None})


def words_of(name: str) -> list[str]:
    found: list[str] = []
    for token in " ".join(name.translate(_TO_LATIN).translate(_LETTERS).lower().split()).split(" "):
        for word in (token.replace("\u200c", ""), *token.split("\u200c")):
            word = word[:100]
            if word and word not in found:
                found.append(word)
    return found


def upgrade() -> None:
    op.create_table(
        'member_search_words',
        sa.Column('club_id', sa.BigInteger(), nullable=False),
        sa.Column('word', sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql"), nullable=False),
        sa.Column('member_id', ID, sa.ForeignKey('members.id', name='fk_member_search_words_member_id_members'), nullable=False),
        sa.PrimaryKeyConstraint('club_id', 'word', 'member_id', name='pk_member_search_words'),
    )
    op.create_index('ix_member_search_words_member_id', 'member_search_words', ['member_id'])
    op.create_index('ix_member_identifiers_display', 'member_identifiers', ['club_id', 'kind', 'display'])
    _backfill()


def _backfill() -> None:
    """Every member's words, under their root club, a batch at a time."""
    conn = op.get_bind()
    parents = {int(c): (int(p) if p is not None else None) for c, p in conn.execute(sa.text("SELECT id, parent_id FROM clubs"))}

    def root(club: int) -> int:
        seen = 0
        while parents.get(club) is not None and seen < 64:
            club, seen = parents[club] or club, seen + 1
        return club

    after = 0
    insert = sa.text("INSERT INTO member_search_words (club_id, word, member_id) VALUES (:club, :word, :member)")
    while True:
        rows = conn.execute(sa.text("SELECT id, club_id, name_fa FROM members WHERE id > :after ORDER BY id LIMIT :n"),
                            {"after": after, "n": BATCH}).fetchall()
        if not rows:
            return
        words = [{"club": root(int(club)), "word": word, "member": int(mid)} for mid, club, name in rows for word in words_of(name or "")]
        if words:
            conn.execute(insert, words)
        after = int(rows[-1][0])


def downgrade() -> None:
    op.drop_index('ix_member_identifiers_display', table_name='member_identifiers')
    op.drop_index('ix_member_search_words_member_id', table_name='member_search_words')
    op.drop_table('member_search_words')
