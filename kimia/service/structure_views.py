"""Reads of a club's structure for its back office (SPEC C1-C6): the club tree and the meta-clubs it
belongs to, owners, root clubs, fee tariffs, marketers, merchants, branches, terminals and groups.

Every read of a club's things takes the clubs the caller may see (its tree, ``clubs``) and answers
an id outside them exactly as an id that does not exist, so a club never learns what another holds.
Lists are read in pages ordered by id (``after_id``, ``limit``). Terminal keys are never read here:
only their version and check value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kimia.errors import Phrase, reject
from kimia.service.api import Kimia
from kimia.service.sql import Tx


@dataclass(frozen=True)
class ClubNode:
    id: int
    parent_id: int | None
    name_fa: str
    name_en: str
    business_type: str | None
    created_at: int
    children: list[ClubNode] = field(default_factory=list)


@dataclass(frozen=True)
class MetaClubView:
    id: int
    name_fa: str
    name_en: str
    share_members: bool
    share_merchants: bool
    share_value: bool
    club_ids: list[int]
    created_at: int


@dataclass(frozen=True)
class OwnerView:
    id: int
    name_fa: str
    name_en: str
    sheba: str | None
    created_at: int


@dataclass(frozen=True)
class TariffView:
    id: int
    business_type: str | None
    percent_bp: int
    fixed_rial: int
    cap_rial: int | None


@dataclass(frozen=True)
class MarketerView:
    id: int
    club_id: int
    name_fa: str
    sheba: str | None
    created_at: int


@dataclass(frozen=True)
class MerchantView:
    id: int
    club_id: int
    name_fa: str
    name_en: str
    business_type: str | None
    sheba: str | None
    marketer_id: int | None
    active: bool
    created_at: int


@dataclass(frozen=True)
class BranchView:
    id: int
    merchant_id: int
    name_fa: str


@dataclass(frozen=True)
class TerminalView:
    id: int
    terminal_code: str
    merchant_code: str
    merchant_id: int
    branch_id: int | None
    kind: str
    active: bool
    mac_key_version: int
    mac_key_kcv: str | None


@dataclass(frozen=True)
class GroupView:
    id: int
    club_id: int
    name_fa: str
    name_en: str
    size: int


#: The largest id a database holds (a 64-bit integer): a larger one names nothing, and is not sent
#: to SQLite, which cannot bind it.
MAX_ID = 2**63 - 1


def _page_start(after_id: int) -> int:
    return min(after_id, MAX_ID)


def _in(tx: Tx, ids: Sequence[int]) -> str:
    return f"({tx.placeholders(len(ids))})"


# --- the club tree and the platform --------------------------------------------------------------

_CLUB = "SELECT id, parent_id, name_fa, name_en, business_type, created_at FROM clubs"


def club_tree(svc: Kimia, clubs: Sequence[int]) -> ClubNode:
    """The tree of ``clubs`` (the first is its root), each club with its sub-clubs."""
    with svc.reading() as tx:
        rows = tx.all(f"{_CLUB} WHERE id IN {_in(tx, clubs)} ORDER BY id", tuple(clubs))
    nodes = {int(r[0]): ClubNode(int(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in rows}
    for node in nodes.values():
        if node.parent_id is not None and node.parent_id in nodes:
            nodes[node.parent_id].children.append(node)
    return nodes[clubs[0]]


def meta_clubs_of(svc: Kimia, root: int) -> list[MetaClubView]:
    """The meta-clubs ``root`` belongs to, with what each shares and its clubs."""
    with svc.reading() as tx:
        ids = [int(i) for (i,) in tx.all("SELECT meta_club_id FROM meta_club_members WHERE club_id = ? ORDER BY meta_club_id", (root,))]
        return _meta_clubs(tx, ids)


def list_meta_clubs(svc: Kimia, *, after_id: int, limit: int) -> list[MetaClubView]:
    """Every meta-club of the platform, a page at a time."""
    with svc.reading() as tx:
        ids = [int(i) for (i,) in tx.all("SELECT id FROM meta_clubs WHERE id > ? ORDER BY id LIMIT ?", (_page_start(after_id), limit))]
        return _meta_clubs(tx, ids)


def _meta_clubs(tx: Tx, ids: list[int]) -> list[MetaClubView]:
    if not ids:
        return []
    members: dict[int, list[int]] = {i: [] for i in ids}
    for meta_id, club_id in tx.all(f"SELECT meta_club_id, club_id FROM meta_club_members WHERE meta_club_id IN {_in(tx, ids)}"
                                   " ORDER BY club_id", tuple(ids)):
        members[int(meta_id)].append(int(club_id))
    rows = tx.all("SELECT id, name_fa, name_en, share_members, share_merchants, share_value, created_at FROM meta_clubs"
                  f" WHERE id IN {_in(tx, ids)} ORDER BY id", tuple(ids))
    return [MetaClubView(int(r[0]), r[1], r[2], bool(r[3]), bool(r[4]), bool(r[5]), members[int(r[0])], int(r[6])) for r in rows]


def list_owners(svc: Kimia, *, after_id: int, limit: int) -> list[OwnerView]:
    with svc.reading() as tx:
        rows = tx.all("SELECT id, name_fa, name_en, sheba, created_at FROM club_owners WHERE id > ? ORDER BY id LIMIT ?",
                      (_page_start(after_id), limit))
    return [OwnerView(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]


def list_root_clubs(svc: Kimia, *, after_id: int, limit: int) -> list[tuple[int, ClubNode]]:
    """(owner id, club) of every root club of the platform, without their sub-clubs."""
    with svc.reading() as tx:
        rows = tx.all("SELECT id, parent_id, name_fa, name_en, business_type, created_at, owner_id FROM clubs"
                      " WHERE parent_id IS NULL AND id > ? ORDER BY id LIMIT ?", (_page_start(after_id), limit))
    return [(int(r[6]), ClubNode(int(r[0]), None, r[2], r[3], r[4], int(r[5]))) for r in rows]


def list_fee_tariffs(svc: Kimia, *, after_id: int, limit: int) -> list[TariffView]:
    with svc.reading() as tx:
        rows = tx.all("SELECT id, business_type, percent_bp, fixed_rial, cap_rial FROM fee_tariffs WHERE id > ? ORDER BY id LIMIT ?",
                      (_page_start(after_id), limit))
    return [TariffView(int(r[0]), r[1], int(r[2]), int(r[3]), None if r[4] is None else int(r[4])) for r in rows]


def owner_of(svc: Kimia, club_id: int) -> int | None:
    """The owner of a club (None: no such club)."""
    with svc.reading() as tx:
        row = tx.one("SELECT owner_id FROM clubs WHERE id = ?", (club_id,))
    return None if row is None else int(row[0])


# --- marketers and merchants ---------------------------------------------------------------------


def list_marketers(svc: Kimia, clubs: Sequence[int], *, after_id: int, limit: int) -> list[MarketerView]:
    with svc.reading() as tx:
        rows = tx.all(f"SELECT id, club_id, name_fa, sheba, created_at FROM marketers WHERE club_id IN {_in(tx, clubs)}"
                      " AND id > ? ORDER BY id LIMIT ?", (*clubs, _page_start(after_id), limit))
    return [MarketerView(int(r[0]), int(r[1]), r[2], r[3], int(r[4])) for r in rows]


_MERCHANT = "SELECT id, club_id, name_fa, name_en, business_type, sheba, marketer_id, active, created_at FROM merchants"


def _merchant(r: Sequence[Any]) -> MerchantView:
    return MerchantView(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], bool(r[7]), int(r[8]))


def list_merchants(svc: Kimia, clubs: Sequence[int], *, after_id: int, limit: int, only: int | None = None) -> list[MerchantView]:
    """The merchants of ``clubs`` (``only``: that one merchant, for a key bound to it)."""
    extra, params = ("AND id = ?", (only,)) if only is not None else ("", ())
    with svc.reading() as tx:
        rows = tx.all(f"{_MERCHANT} WHERE club_id IN {_in(tx, clubs)} {extra} AND id > ? ORDER BY id LIMIT ?",
                      (*clubs, *params, _page_start(after_id), limit))
    return [_merchant(r) for r in rows]


def merchant(svc: Kimia, clubs: Sequence[int], merchant_id: int, path: str = "merchant_id") -> MerchantView:
    """A merchant of ``clubs``, else ``unknown_merchant``."""
    if not 0 < merchant_id <= MAX_ID:
        raise reject("unknown_merchant", path=path)
    with svc.reading() as tx:
        row = tx.one(f"{_MERCHANT} WHERE id = ? AND club_id IN {_in(tx, clubs)}", (merchant_id, *clubs))
    if row is None:
        raise reject("unknown_merchant", path=path)
    return _merchant(row)


def list_branches(svc: Kimia, merchant_id: int, *, after_id: int, limit: int, only: int | None = None) -> list[BranchView]:
    """The branches of a merchant (the caller has checked the merchant is theirs; ``only``: that
    one branch, for a key bound to it)."""
    extra, params = ("AND id = ?", (only,)) if only is not None else ("", ())
    with svc.reading() as tx:
        rows = tx.all(f"SELECT id, merchant_id, name_fa FROM branches WHERE merchant_id = ? {extra} AND id > ? ORDER BY id LIMIT ?",
                      (merchant_id, *params, _page_start(after_id), limit))
    return [BranchView(int(r[0]), int(r[1]), r[2]) for r in rows]


def merchant_of_branch(svc: Kimia, branch_id: int) -> int | None:
    with svc.reading() as tx:
        row = tx.one("SELECT merchant_id FROM branches WHERE id = ?", (branch_id,))
    return None if row is None else int(row[0])


_TERMINAL = ("SELECT t.id, t.terminal_code, t.merchant_code, t.merchant_id, t.branch_id, t.kind, t.active, t.mac_key_version,"
             " t.mac_key_kcv FROM terminals t JOIN merchants m ON m.id = t.merchant_id")


def _terminal(r: Sequence[Any]) -> TerminalView:
    return TerminalView(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], bool(r[6]), int(r[7] or 0), r[8])


def list_terminals(svc: Kimia, merchant_id: int, *, after_id: int, limit: int) -> list[TerminalView]:
    """The terminals of a merchant (the caller has checked the merchant is theirs)."""
    with svc.reading() as tx:
        rows = tx.all(f"{_TERMINAL} WHERE t.merchant_id = ? AND t.id > ? ORDER BY t.id LIMIT ?",
                      (merchant_id, _page_start(after_id), limit))
    return [_terminal(r) for r in rows]


def terminal(svc: Kimia, clubs: Sequence[int], terminal_id: int) -> TerminalView:
    """A terminal of a merchant of ``clubs``, else ``unknown_terminal``."""
    if not 0 < terminal_id <= MAX_ID:
        raise reject("unknown_terminal", path="terminal_id")
    with svc.reading() as tx:
        row = tx.one(f"{_TERMINAL} WHERE t.id = ? AND m.club_id IN {_in(tx, clubs)}", (terminal_id, *clubs))
    if row is None:
        raise reject("unknown_terminal", path="terminal_id")
    return _terminal(row)


def terminal_by_codes(svc: Kimia, terminal_code: str, merchant_code: str) -> int | None:
    """The id of the terminal registered as (field 41, field 42), on the whole platform."""
    with svc.reading() as tx:
        row = tx.one("SELECT id FROM terminals WHERE terminal_code = ? AND merchant_code = ?", (terminal_code, merchant_code))
    return None if row is None else int(row[0])


# --- groups --------------------------------------------------------------------------------------

#: (group table, membership table, the membership's column naming a member of the group)
_GROUPS = {"merchant": ("merchant_groups", "merchant_group_members", "merchant_id"),
           "member": ("member_groups", "member_group_members", "member_id")}
#: How a not_found names a group (the Persian takes the catalogue message's indefinite ی).
GROUP_NAMES = {"merchant": Phrase("merchant group", "گروه پذیرندگان"), "member": Phrase("member group", "گروه عضو")}


def list_groups(svc: Kimia, kind: str, clubs: Sequence[int], *, after_id: int, limit: int) -> list[GroupView]:
    """The merchant or member groups (``kind``) of ``clubs``, each with its size."""
    table, members, _ = _GROUPS[kind]
    with svc.reading() as tx:
        rows = tx.all(f"SELECT g.id, g.club_id, g.name_fa, g.name_en, (SELECT COUNT(*) FROM {members} x WHERE x.group_id = g.id)"
                      f" FROM {table} g WHERE g.club_id IN {_in(tx, clubs)} AND g.id > ? ORDER BY g.id LIMIT ?",
                      (*clubs, _page_start(after_id), limit))
    return [GroupView(int(r[0]), int(r[1]), r[2], r[3], int(r[4])) for r in rows]


def group(svc: Kimia, kind: str, clubs: Sequence[int], group_id: int) -> GroupView:
    """A group of ``clubs``, else ``not_found`` (what: the kind of group)."""
    table, members, _ = _GROUPS[kind]
    if not 0 < group_id <= MAX_ID:
        raise reject("not_found", path="group_id", what=GROUP_NAMES[kind])
    with svc.reading() as tx:
        row = tx.one(f"SELECT g.id, g.club_id, g.name_fa, g.name_en, (SELECT COUNT(*) FROM {members} x WHERE x.group_id = g.id)"
                     f" FROM {table} g WHERE g.id = ? AND g.club_id IN {_in(tx, clubs)}", (group_id, *clubs))
    if row is None:
        raise reject("not_found", path="group_id", what=GROUP_NAMES[kind])
    return GroupView(int(row[0]), int(row[1]), row[2], row[3], int(row[4]))


def group_members(svc: Kimia, kind: str, group_id: int, *, after_id: int, limit: int) -> list[int]:
    """The ids in a group (the caller has checked the group is theirs), a page at a time."""
    _, members, column = _GROUPS[kind]
    with svc.reading() as tx:
        rows = tx.all(f"SELECT {column} FROM {members} WHERE group_id = ? AND {column} > ? ORDER BY {column} LIMIT ?",
                      (group_id, _page_start(after_id), limit))
    return [int(i) for (i,) in rows]
