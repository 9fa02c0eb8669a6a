"""Tenancy: what an id in a club's rule set or admin call may name.

Ids are sequential across the whole platform, so an id alone names anyone's lottery, merchant or
member. Everything a club configures must name things of its own tree (the club and its
sub-clubs), or what a meta-club shares with it (C3): merchants (and their groups and branches) of
clubs sharing merchants, member groups and members of clubs sharing members. Anything else is
refused with ``foreign_reference`` and the path of the field that carried it, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kimia.errors import reject
from kimia.service.sql import Tx

#: A reference: (kind, id, path of the field that carried it).
Ref = tuple[str, Any, str]

#: Where each kind of id is looked up: the statement giving the club that owns it, and which
#: clubs may own it ("own": the club's tree; "merchants"/"members": also what a meta-club shares).
_OWNER: dict[str, tuple[str, str]] = {
    "club": ("SELECT id FROM clubs WHERE id = ?", "own"),
    "lottery": ("SELECT club_id FROM lotteries WHERE id = ?", "own"),
    "voucher template": ("SELECT club_id FROM voucher_templates WHERE id = ?", "own"),
    "marketer": ("SELECT club_id FROM marketers WHERE id = ?", "own"),
    "shared wallet": ("SELECT club_id FROM shared_wallets WHERE id = ?", "own"),
    "merchant": ("SELECT club_id FROM merchants WHERE id = ?", "merchants"),
    "merchant group": ("SELECT club_id FROM merchant_groups WHERE id = ?", "merchants"),
    "branch": ("SELECT m.club_id FROM branches b JOIN merchants m ON m.id = b.merchant_id WHERE b.id = ?", "merchants"),
    "member group": ("SELECT club_id FROM member_groups WHERE id = ?", "members"),
    "member": ("SELECT club_id FROM members WHERE id = ?", "members"),
    # A member of a shared wallet spends its value from the club's own ledger: never shared.
    "wallet member": ("SELECT club_id FROM members WHERE id = ?", "own"),
}

#: Rule-set fields holding lists of ids, and fields holding one id.
_LIST_FIELDS = {"merchants": "merchant", "merchant_groups": "merchant group", "branches": "branch", "clubs": "club"}
_ONE_FIELDS = {"lottery_id": "lottery", "template_id": "voucher template"}
#: Conditions naming ids by ``"type"`` in an ``ids`` list.
_CONDITIONS = {"merchant": "merchant", "merchant_group": "merchant group", "branch": "branch", "club": "club",
               "member_group": "member group"}


def root_of(tx: Tx, club_id: int) -> int | None:
    """The root club of ``club_id`` (None if there is no such club)."""
    current, seen = club_id, 0
    while seen < 32:
        row = tx.one("SELECT parent_id FROM clubs WHERE id = ?", (current,))
        if row is None:
            return None
        if row[0] is None:
            return current
        current, seen = int(row[0]), seen + 1
    return None


def sharing_roots(tx: Tx, root: int, flag: str) -> set[int]:
    """The root club plus the clubs in a meta-club with it that shares ``flag`` (share_members or
    share_merchants)."""
    assert flag in ("share_members", "share_merchants")
    rows = tx.all(
        "SELECT DISTINCT b.club_id FROM meta_club_members a JOIN meta_club_members b ON a.meta_club_id = b.meta_club_id"
        f" JOIN meta_clubs m ON m.id = a.meta_club_id WHERE a.club_id = ? AND m.{flag} = ?",
        (root, True),
    )
    return {root} | {int(c) for (c,) in rows}


def check_refs(tx: Tx, club_id: int, refs: Iterable[Ref]) -> None:
    """Refuse the first reference that does not belong to ``club_id``'s tree (or what it shares)."""
    root = root_of(tx, club_id)
    if root is None:
        raise reject("unknown_club")
    allowed: dict[str, set[int]] = {"own": {root}}
    for kind, ident, path in refs:
        statement, scope = _OWNER[kind]
        if scope not in allowed:
            allowed[scope] = sharing_roots(tx, root, "share_members" if scope == "members" else "share_merchants")
        owner = tx.one(statement, (ident,)) if isinstance(ident, int) and not isinstance(ident, bool) else None
        if owner is None or root_of(tx, int(owner[0])) not in allowed[scope]:
            raise reject("foreign_reference", path=path, kind=kind, id=ident)


def rule_refs(body: dict[str, Any]) -> list[Ref]:
    """Every id a rule set names (merchant sets, scopes, conditions at any depth, effects), with
    its path. The settlement shares name no ids and are skipped."""
    refs: list[Ref] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
            return
        if not isinstance(node, dict):
            return
        kind_of = node.get("type")
        kind = _CONDITIONS.get(kind_of) if isinstance(kind_of, str) else None
        if kind is not None and isinstance(node.get("ids"), list):
            refs.extend((kind, ident, f"{path}.ids[{i}]") for i, ident in enumerate(node["ids"]))
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "settlement" and not path:
                continue
            if key in _LIST_FIELDS and isinstance(value, list):
                refs.extend((_LIST_FIELDS[key], ident, f"{where}[{i}]") for i, ident in enumerate(value))
            elif key in _ONE_FIELDS:
                refs.append((_ONE_FIELDS[key], value, where))
            elif key == "group_multipliers_bp" and isinstance(value, dict):
                refs.extend(("member group", _as_int(k), f"{where}.{k}") for k in value)
            walk(value, where)

    walk(body, "")
    return refs


def rule_tiers(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(tier name, path) of every tier a rule set names (tier conditions and tier multipliers)."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, dict):
            if node.get("type") == "tier" and isinstance(node.get("names"), list):
                found.extend((str(n), f"{path}.names[{i}]") for i, n in enumerate(node["names"]))
            for key, value in node.items():
                where = f"{path}.{key}" if path else str(key)
                if key == "tier_multipliers_bp" and isinstance(value, dict):
                    found.extend((str(k), f"{where}.{k}") for k in value)
                walk(value, where)

    walk(body.get("rules", []), "rules")
    return found


def _as_int(value: Any) -> Any:
    """A member-group id given as a JSON object key (a string) as the integer it names."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


__all__ = ["Ref", "check_refs", "root_of", "rule_refs", "rule_tiers", "sharing_roots"]
