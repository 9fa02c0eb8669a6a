"""Counts the panel's structure pages show beside the API's lists (reads only): a merchant's
branches and terminals, a root club's members and merchants. Scoped by the caller: a club's
pages pass merchants they have already read through the API's views (of their own club tree);
the root-club counts are the platform's (every root club is the platform's to see)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kimia.service.api import Kimia
from kimia.service.clubs import club_tree


@dataclass(frozen=True)
class MerchantCounts:
    branches: int
    terminals: int


@dataclass(frozen=True)
class ClubCounts:
    members: int
    merchants: int
    sub_clubs: int


def merchant_counts(svc: Kimia, clubs: Sequence[int], merchant_ids: Sequence[int]) -> dict[int, MerchantCounts]:
    """Branches and terminals of each of ``merchant_ids`` that is a merchant of ``clubs``."""
    if not merchant_ids or not clubs:
        return {}
    with svc.reading() as tx:
        ids = tuple(int(m) for m in merchant_ids)
        mine = {int(r[0]) for r in tx.all(
            f"SELECT id FROM merchants WHERE id IN ({tx.placeholders(len(ids))}) AND club_id IN ({tx.placeholders(len(clubs))})",
            (*ids, *clubs))}
        if not mine:
            return {}
        held = tuple(sorted(mine))
        marks = tx.placeholders(len(held))
        branches = {int(r[0]): int(r[1]) for r in tx.all(
            f"SELECT merchant_id, COUNT(*) FROM branches WHERE merchant_id IN ({marks}) GROUP BY merchant_id", held)}
        terminals = {int(r[0]): int(r[1]) for r in tx.all(
            f"SELECT merchant_id, COUNT(*) FROM terminals WHERE merchant_id IN ({marks}) GROUP BY merchant_id", held)}
    return {m: MerchantCounts(branches.get(m, 0), terminals.get(m, 0)) for m in held}


def root_club_counts(svc: Kimia, roots: Sequence[int]) -> dict[int, ClubCounts]:
    """Members and merchants of each root club's whole tree, and how many sub-clubs it has (the
    platform's clubs page)."""
    found: dict[int, ClubCounts] = {}
    with svc.reading() as tx:
        for root in roots:
            tree = club_tree(tx, int(root))
            marks = tx.placeholders(len(tree))
            members = tx.one(f"SELECT COUNT(*) FROM members WHERE club_id IN ({marks})", tuple(tree))
            merchants = tx.one(f"SELECT COUNT(*) FROM merchants WHERE club_id IN ({marks})", tuple(tree))
            found[int(root)] = ClubCounts(int(members[0]) if members else 0, int(merchants[0]) if merchants else 0, len(tree) - 1)
    return found


def owner_names(svc: Kimia, owner_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """(Persian, English) name of each club owner named (the platform's pages)."""
    if not owner_ids:
        return {}
    ids = tuple(sorted({int(i) for i in owner_ids}))
    with svc.reading() as tx:
        rows = tx.all(f"SELECT id, name_fa, name_en FROM club_owners WHERE id IN ({tx.placeholders(len(ids))})", ids)
    return {int(r[0]): (str(r[1]), str(r[2] or "")) for r in rows}
