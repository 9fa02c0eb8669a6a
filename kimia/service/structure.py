"""Writes of a club's structure that :class:`~kimia.service.admin.Admin` does not make, and the
checks its calls need before anything is written when a caller (the JSON API) names ids it chose:
sub-clubs under a club of the caller's tree, root clubs of a known owner, meta-clubs of root clubs,
merchants renamed, terminals registered without a duplicate and given MAC keys, groups' members
changed. Every change is one transaction with its row in the audit log (actor: who made it).

A terminal's MAC key is stored only wrapped under the KEK (kimia.service.terminalkeys); the audit
and the answer hold its check value (KCV), never the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from kimia import identifiers as ids
from kimia.errors import Phrase, reject
from kimia.service import audit, tenancy
from kimia.service.admin import Admin
from kimia.service.api import Kimia
from kimia.service.sql import Tx
from kimia.service.structure_views import GROUP_NAMES, owner_of, terminal_by_codes
from kimia.service.terminalkeys import kcv, load_kek, wrap

#: The lengths of an AES MAC key a terminal takes (AES-128, AES-256).
MAC_KEY_BYTES = (16, 32)


def valid_sheba(sheba: str | None, path: str = "sheba") -> str | None:
    """A Sheba as stored (upper case), or its catalogue error at ``path``."""
    if sheba is None:
        return None
    try:
        return ids.validate_sheba(sheba)
    except ids.IdentifierError as error:
        raise reject(error.code, path=path) from None


def _audit(svc: Kimia, tx: Tx, club_id: int | None, actor: str, action: str, payload: dict[str, Any]) -> None:
    audit.append(tx, club_id=club_id, actor=actor, action=action, reason="", payload=payload, at=svc.clock())


# --- clubs ---------------------------------------------------------------------------------------


def create_root_club(svc: Kimia, owner_id: int, name_fa: str, *, name_en: str, business_type: str | None, actor: str) -> int:
    """A root club of a known owner (``not_found`` at ``owner_id`` otherwise)."""
    with svc.reading() as tx:
        if tx.one("SELECT id FROM club_owners WHERE id = ?", (owner_id,)) is None:
            raise reject("not_found", path="owner_id", what=Phrase("club owner", "باشگاه‌دار"))
    return Admin(svc).create_club(owner_id, name_fa, name_en=name_en, business_type=business_type, actor=actor)


def create_sub_club(svc: Kimia, parent_id: int, name_fa: str, *, name_en: str, business_type: str | None, actor: str) -> int:
    """A sub-club under ``parent_id`` (the caller has checked it is of its tree), of the same owner."""
    owner = owner_of(svc, parent_id)
    if owner is None:
        raise reject("unknown_club", path="club_id")
    return Admin(svc).create_club(owner, name_fa, name_en=name_en, parent_id=parent_id, business_type=business_type, actor=actor)


def create_meta_club(svc: Kimia, name_fa: str, club_ids: Sequence[int], *, share_members: bool, share_merchants: bool,
                     share_value: bool, actor: str) -> int:
    """A meta-club of root clubs (value and sharing are kept per root club: a sub-club is refused)."""
    with svc.reading() as tx:
        for i, club_id in enumerate(club_ids):
            row = tx.one("SELECT parent_id FROM clubs WHERE id = ?", (club_id,))
            if row is None or row[0] is not None:
                raise reject("unknown_club", path=f"club_ids.{i}")
    return Admin(svc).create_meta_club(name_fa, list(club_ids), share_members=share_members, share_merchants=share_merchants,
                                       share_value=share_value, actor=actor)


# --- merchants and terminals ---------------------------------------------------------------------


def update_merchant(svc: Kimia, merchant_id: int, changes: dict[str, Any], *, actor: str) -> None:
    """Rename a merchant or change its business type (``changes``: name_fa, name_en, business_type)."""
    allowed = {"name_fa", "name_en", "business_type"}
    assert set(changes) <= allowed, changes

    def work(tx: Tx) -> None:
        row = tx.one("SELECT club_id FROM merchants WHERE id = ?", (merchant_id,))
        if row is None:
            raise reject("unknown_merchant", path="merchant_id")
        if not changes:
            return  # nothing asked, nothing changed: no line in the audit log
        assignments = ", ".join(f"{column} = ?" for column in changes)
        tx.execute(f"UPDATE merchants SET {assignments} WHERE id = ?", (*changes.values(), merchant_id))
        _audit(svc, tx, int(row[0]), actor, "update_merchant", {"id": merchant_id, **changes})

    svc.write(work)
    svc.caches.clear()


def register_terminal(svc: Kimia, merchant_id: int, terminal_code: str, merchant_code: str, *, kind: str, branch_id: int | None,
                      mac_key: bytes | None, actor: str) -> int:
    """Register a terminal (Admin.create_terminal), refusing a (41, 42) pair already registered."""
    if terminal_by_codes(svc, terminal_code, merchant_code) is not None:
        raise reject("terminal_taken", path="terminal_code", terminal_code=terminal_code, merchant_code=merchant_code)
    if mac_key is not None and len(mac_key) not in MAC_KEY_BYTES:
        raise reject("field_invalid", path="mac_key_hex", detail="a MAC key is 16 or 32 bytes (32 or 64 hex digits)")
    try:
        return Admin(svc).create_terminal(merchant_id, terminal_code, merchant_code, kind=kind, branch_id=branch_id,
                                          mac_key_hex=mac_key.hex() if mac_key is not None else None, actor=actor)
    except IntegrityError:
        # Registered by a concurrent request between the check above and the insert (the unique pair).
        raise reject("terminal_taken", path="terminal_code", terminal_code=terminal_code, merchant_code=merchant_code) from None


def set_mac_key(svc: Kimia, terminal_id: int, key: bytes, *, actor: str) -> tuple[int, str]:
    """Give a terminal a new MAC key (its first or the next): stored wrapped under the KEK with the
    next version; the previous key is dropped. Returns (version, KCV)."""
    if len(key) not in MAC_KEY_BYTES:
        raise reject("field_invalid", path="key_hex", detail="a MAC key is 16 or 32 bytes (32 or 64 hex digits)")
    kek, check = load_kek(), kcv(key)

    def work(tx: Tx) -> int:
        row = tx.one("SELECT t.terminal_code, t.merchant_code, t.mac_key_version, m.club_id FROM terminals t"
                     " JOIN merchants m ON m.id = t.merchant_id WHERE t.id = ?", (terminal_id,))
        if row is None:
            raise reject("unknown_terminal", path="terminal_id")
        version = int(row[2] or 0) + 1
        tx.execute("UPDATE terminals SET mac_key_enc = ?, mac_key_version = ?, mac_key_kcv = ?, mac_key_prev_enc = NULL,"
                   " mac_key_prev_until = NULL WHERE id = ?", (wrap(kek, key, row[0], row[1]), version, check, terminal_id))
        _audit(svc, tx, int(row[3]), actor, "set_terminal_key",
               {"terminal_id": row[0], "merchant_code": row[1], "mac_key": "set", "version": version, "kcv": check})
        return version

    version = svc.write(work)
    svc.caches.clear()
    return version, check


# --- groups --------------------------------------------------------------------------------------

#: kind -> (membership table, its column, the tenancy kind of what it holds, the group's table)
_GROUPS = {"merchant": ("merchant_group_members", "merchant_id", "merchant", "merchant_groups"),
           "member": ("member_group_members", "member_id", "member", "member_groups")}


def create_group(svc: Kimia, kind: str, club_id: int, name_fa: str, members: Sequence[int], *, name_en: str, actor: str) -> int:
    """A merchant or member group (Admin), its ids checked first with their paths as the API names
    them (``ids.0``): of the club's tree or shared with it by a meta-club."""
    with svc.reading() as tx:
        tenancy.check_refs(tx, club_id, [(_GROUPS[kind][2], i, f"ids.{n}") for n, i in enumerate(members)])
    unique = sorted(set(members))
    if kind == "merchant":
        return Admin(svc).create_merchant_group(club_id, name_fa, unique, name_en=name_en, actor=actor)
    group_id = Admin(svc).create_member_group(club_id, name_fa, unique, name_en=name_en, actor=actor)
    svc.caches.clear()  # a member's groups are cached (conversion ratios, rules)
    return group_id

def change_group(svc: Kimia, kind: str, club_id: int, group_id: int, *, add: Sequence[int], remove: Sequence[int], actor: str) -> None:
    """Add ids to a merchant or member group and take others out (adding one already in, or taking
    out one not in, changes nothing). Ids added must be the club's (or shared with it: C3)."""
    members, column, tenancy_kind, table = _GROUPS[kind]
    with svc.reading() as tx:
        tenancy.check_refs(tx, club_id, [(tenancy_kind, i, f"add.{n}") for n, i in enumerate(add)])

    def work(tx: Tx) -> None:
        if tx.one(f"SELECT id FROM {table} WHERE id = ?", (group_id,)) is None:
            raise reject("not_found", path="group_id", what=GROUP_NAMES[kind])
        present = {int(i) for (i,) in tx.all(f"SELECT {column} FROM {members} WHERE group_id = ?", (group_id,))}
        added = sorted(set(add) - present)
        removed = sorted(set(remove) & present)
        for ident in added:
            tx.execute(f"INSERT INTO {members} (group_id, {column}) VALUES (?, ?)", (group_id, ident))
        if removed:
            tx.execute(f"DELETE FROM {members} WHERE group_id = ? AND {column} IN ({tx.placeholders(len(removed))})",
                       (group_id, *removed))
        _audit(svc, tx, club_id, actor, f"change_{kind}_group", {"id": group_id, "added": added, "removed": removed})

    svc.write(work)
    svc.caches.clear()
