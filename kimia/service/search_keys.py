"""The words a member is found by in the panel's search (kimia.service.member_search), made when
the member is written: a name's words normalised as people type them, kept in
``member_search_words`` under the member's root club (migration 0014).

Normal form: Latin digits for Persian and Arabic-Indic ones; Persian yeh and kaf for the Arabic
letters people type (ي ى → ی, ك → ک, ة → ه); no tatweel or zero-width joiner; lower case. A word
joined by a zero-width non-joiner (محمد‌رضا) is kept whole (محمدرضا) and as its parts (محمد, رضا),
so that either is found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kimia.service.sql import Tx

#: The longest word kept (the column's width).
MAX_WORD = 100
ZWNJ = "\u200c"
_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "\u200d": None, "\u0640": None, "\u200f": None, "\u200e": None})


def normalize(text: str) -> str:
    """``text`` in the search's normal form (see the module's docstring), single spaces."""
    return " ".join(text.translate(_TO_LATIN).translate(_LETTERS).lower().split())


def words_of(name: str) -> list[str]:
    """The distinct words ``name`` is found by, in order."""
    found: list[str] = []
    for token in normalize(name).split(" "):
        for word in (token.replace(ZWNJ, ""), *token.split(ZWNJ)):
            word = word[:MAX_WORD]
            if word and word not in found:
                found.append(word)
    return found


def query_words(text: str) -> list[str]:
    """The words of what a person typed in the search box (a joined word is kept whole)."""
    return [w[:MAX_WORD] for w in (token.replace(ZWNJ, "") for token in normalize(text).split(" ")) if w]


def write_words(tx: Tx, root_club: int, member_id: int, name: str, *, replace: bool = True) -> None:
    """(Re)write a member's search words for ``name``: on enrolment (``replace=False``: a new
    member has none) and on every rename."""
    if replace:
        tx.execute("DELETE FROM member_search_words WHERE member_id = ?", (member_id,))
    words = words_of(name)
    if words:
        tx.executemany("INSERT INTO member_search_words (club_id, word, member_id) VALUES (?,?,?)",
                       [(root_club, word, member_id) for word in words])
