"""The panel's member search (issue 16, SPEC M4): one box that finds a member of the caller's
club tree by mobile (09..., +98..., in any digits), national code, a bank or club card's last 4
digits (or its whole number), club card number, account number, member id, or any part of the name
(the prefix of any of its words), ی/ي, ک/ك and Persian/Arabic digits alike.

Reads only, scoped by the caller's root club: identifiers are kept under the root club
(``member_identifiers.club_id``) as are the name's words (``member_search_words``, migration 0014);
a member id must be of a club of the tree. Every lookup is an index probe or an index range with a
LIMIT, so a search costs the same with a thousand members or a million: exact identifiers through
the unique (club_id, kind, lookup); a card's last 4 through (club_id, kind, display), the display
being the mask (``************1234``); a name through the words' primary key (club_id, word, ...).
Nothing here shows a card number: answers carry identifiers' masked displays only.
"""

from __future__ import annotations

from typing import Any

import kimia._core as core
from kimia.errors import KimiaError
from kimia.service.clubs import club_tree
from kimia.service.host import Host
from kimia.service.members import MAX_MEMBER_ID, stored_forms
from kimia.service.search_keys import query_words
from kimia.service.sql import Tx

#: The most members a search answers.
LIMIT = 20
#: How many members of a name's leading word the other words of the search filter, at most.
SCAN_CAP = 5_000
#: Past the last letter of any name's word in byte order: ``word < prefix + HIGH`` closes a prefix range.
HIGH = "\uffff"
#: The identifiers a string of digits may be, tried in this order.
EXACT_KINDS = ("mobile", "national_code", "club_card", "card", "account")
#: A bank card is 13 to 19 digits, a club card 8 to 19: the masks a last 4 may sit under.
CARD_LENGTHS = {"card": range(13, 20), "club_card": range(8, 20)}


def search(svc: Host, club_id: int, text: str, *, limit: int = LIMIT) -> list[dict[str, Any]]:
    """Members of ``club_id``'s tree that ``text`` names, best first (exact identifiers, then
    members by id, then names), at most ``limit``, each with what a result line shows: name,
    masked identifiers, tier, last purchase, points and credit held."""
    words = query_words(text)
    if not words:
        return []
    limit = max(1, min(limit, 100))
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        found = find(svc, tx, root, words, limit)
        return summaries(tx, root, found)


def find(svc: Host, tx: Tx, root: int, words: list[str], limit: int) -> list[int]:
    """The member ids ``words`` name in the root club's tree, best first, at most ``limit``."""
    joined = "".join(words)
    compact = joined.replace("-", "")
    ids: list[int] = []

    def add(found: list[int]) -> None:
        ids.extend(m for m in found if m not in ids)

    if compact.lstrip("+").isdigit():
        add(_by_identifiers(svc, tx, root, compact))
        if len(compact) == 4:
            add(_by_last4(tx, root, compact))
        if compact.isdigit() and int(compact) <= MAX_MEMBER_ID:
            add(_by_id(tx, root, int(compact)))
    if len(ids) < limit:
        add(_by_name(tx, root, words, limit))
    return ids[:limit]


def _by_identifiers(svc: Host, tx: Tx, root: int, value: str) -> list[int]:
    """Members whose mobile, national code, club card, bank card or account is ``value``."""
    found: list[int] = []
    for kind in EXACT_KINDS:
        try:
            forms = stored_forms(svc, kind, value)
        except KimiaError:
            continue  # not a well-formed identifier of this kind
        lookups = [lookup for lookup, _ in forms]
        rows = tx.all(f"SELECT member_id FROM member_identifiers WHERE club_id = ? AND kind = ? AND lookup IN ({tx.placeholders(len(lookups))})",
                      (root, kind, *lookups))
        found.extend(int(m) for (m,) in rows)
    return found


def _by_last4(tx: Tx, root: int, last4: str) -> list[int]:
    """Members with a bank or club card ending in ``last4``: the masks it can end, exactly."""
    found: list[int] = []
    for kind, lengths in CARD_LENGTHS.items():
        masks = ["*" * (n - 4) + last4 for n in lengths]
        rows = tx.all(f"SELECT member_id FROM member_identifiers WHERE club_id = ? AND kind = ? AND display IN ({tx.placeholders(len(masks))})"
                      f" ORDER BY member_id LIMIT ?", (root, kind, *masks, LIMIT))
        found.extend(int(m) for (m,) in rows)
    return found


def _by_id(tx: Tx, root: int, member_id: int) -> list[int]:
    clubs = club_tree(tx, root)
    row = tx.one(f"SELECT id FROM members WHERE id = ? AND club_id IN ({tx.placeholders(len(clubs))})", (member_id, *clubs))
    return [int(row[0])] if row is not None else []


def _by_name(tx: Tx, root: int, words: list[str], limit: int) -> list[int]:
    """Members with a word of their name beginning with each of ``words``: the longest word leads
    (the narrowest range of the index, read in its order), each other word must begin one of the
    member's words (among the leading word's first SCAN_CAP members)."""
    lead = max(words, key=len)
    others = [w for w in words if w is not lead]
    sql = "SELECT w.member_id FROM member_search_words w WHERE w.club_id = ? AND w.word >= ? AND w.word < ?"
    params: list[Any] = [root, lead, lead + HIGH]
    if others:
        # The other words filter the leading word's first SCAN_CAP members (the index's order), so
        # a search of common words costs the same at any size; typing more of a word narrows it.
        sql = (f"SELECT w.member_id FROM ({sql} ORDER BY w.word, w.member_id LIMIT {SCAN_CAP}) w WHERE 1 = 1")
        # "x.club_id + 0": the probe must go by member id (ix_member_search_words_member_id: a member
        # has a handful of words); without statistics SQLite otherwise walks the other word's whole
        # prefix range per candidate (10-21 s for two common words at 1,000,000 members).
        for word in others:
            sql += (" AND EXISTS (SELECT 1 FROM member_search_words x WHERE x.member_id = w.member_id AND x.club_id + 0 = ?"
                    " AND x.word >= ? AND x.word < ?)")
            params += [root, word, word + HIGH]
        rows = tx.all(sql + " LIMIT ?", (*params, limit * 3))
    else:
        rows = tx.all(sql + " ORDER BY w.word, w.member_id LIMIT ?", (*params, limit * 3))
    # A member may match with two of their words (محمد in محمد and in محمدرضا): read a few more.
    ids: list[int] = []
    for (member_id,) in rows:
        if int(member_id) not in ids:
            ids.append(int(member_id))
    return ids[:limit]


def summaries(tx: Tx, root: int, member_ids: list[int]) -> list[dict[str, Any]]:
    """A result line per member, in the order given: three queries for the lot."""
    if not member_ids:
        return []
    marks = tx.placeholders(len(member_ids))
    members = {int(r[0]): r for r in tx.all(f"SELECT id, club_id, name_fa, tier, last_purchase_at, purchase_count FROM members"
                                            f" WHERE id IN ({marks})", tuple(member_ids))}
    identifiers: dict[int, list[dict[str, str]]] = {m: [] for m in member_ids}
    for member_id, kind, display in tx.all(f"SELECT member_id, kind, display FROM member_identifiers WHERE member_id IN ({marks})"
                                           " ORDER BY id", tuple(member_ids)):
        identifiers[int(member_id)].append({"kind": kind, "display": display})
    owners = [f"member:{m}" for m in member_ids]
    points: dict[str, int] = {}
    credit: dict[str, int] = {}
    for owner, account, balance in tx.all(f"SELECT owner, account, balance FROM balances WHERE club_id = ? AND owner IN ({marks})",
                                          (root, *owners)):
        info = core.account_info(account)
        if info.unit == "point":
            points[owner] = points.get(owner, 0) + int(balance)
        elif info.is_credit_held:
            credit[owner] = credit.get(owner, 0) + int(balance)
    out = []
    for m in member_ids:
        row = members.get(m)
        if row is None:
            continue
        out.append({"member_id": m, "club_id": int(row[1]), "name_fa": row[2], "tier": row[3],
                    "last_purchase_at": int(row[4]) if row[4] is not None else None, "purchase_count": int(row[5]),
                    "identifiers": identifiers[m], "points": points.get(f"member:{m}", 0),
                    "credit_held_rial": credit.get(f"member:{m}", 0)})
    return out


def choices(svc: Host, club_id: int) -> dict[str, list[dict[str, Any]]]:
    """What the panel's member forms offer to choose from in ``club_id``'s tree: its clubs (to
    enrol into), member groups and merchants (whose credit an adjustment moves), by id."""
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        clubs = club_tree(tx, root)
        marks = tx.placeholders(len(clubs))
        found: dict[str, list[dict[str, Any]]] = {}
        for key, table in (("clubs", "clubs"), ("groups", "member_groups"), ("merchants", "merchants")):
            where = "id" if table == "clubs" else "club_id"
            rows = tx.all(f"SELECT id, name_fa, name_en FROM {table} WHERE {where} IN ({marks}) ORDER BY id LIMIT 500", tuple(clubs))
            found[key] = [{"id": int(i), "name_fa": fa, "name_en": en or fa} for i, fa, en in rows]
        return found
