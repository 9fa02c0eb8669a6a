"""What a terminal vendor needs from the host's database: terminal ids, merchant ids, test member
keys, and the MAC key of a terminal (``kimia terminal list`` / ``set-key`` / ``rotate-kek``).

A MAC key is stored only encrypted under the key-encryption key (:mod:`kimia.terminal.keys`), with
its version and check value. It is written here only: :func:`set_terminal_key` (an operator's
command), :func:`change_key` (a terminal's 0800 key change) and :func:`rotate_kek`. A key is never
logged, and the audit log records its version and check value, never the key.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from kimia.errors import reject
from kimia.service import audit
from kimia.service.api import Kimia
from kimia.service.context import TerminalContext
from kimia.service.sql import Tx
from kimia.terminal.keys import Kek, kcv, kek_id_of, load_kek, unwrap, wrap, wrap_for_terminal

__all__ = ["KEY_OVERLAP_S", "KeyChange", "MemberKey", "TerminalRow", "change_key", "list_members", "list_terminals", "new_mac_key",
           "rotate_kek", "set_terminal_key"]

#: AES-128 or AES-256: the key lengths AES-CMAC takes (bytes).
MAC_KEY_BYTES = (16, 32)
#: After a terminal's key change (0800, 70=161) its previous key is still accepted this long (seconds):
#: a terminal that never received the 0810 keeps working and may ask again under the old key.
KEY_OVERLAP_S = 600


@dataclass(frozen=True)
class TerminalRow:
    terminal_id: str  # field 41
    merchant_code: str  # field 42
    kind: str  # pos | pcpos
    merchant_id: int
    merchant_name: str
    club_id: int
    has_mac_key: bool
    mac_key_version: int = 0
    mac_key_kcv: str | None = None  # the key's check value (kimia/terminal/keys.py), never the key


@dataclass(frozen=True)
class MemberKey:
    club_id: int
    member_id: int
    key: str  # an MK value: A:<member id>
    mobile_key: str | None  # M:<mobile> when the member has one


def new_mac_key(size: int = 16) -> bytes:
    """A fresh random MAC key (16 bytes: AES-128, or 32: AES-256)."""
    if size not in MAC_KEY_BYTES:
        raise reject("invalid_request", path="key", detail="a MAC key is 16 or 32 bytes")
    return secrets.token_bytes(size)


def _audit(tx: Tx, service: Kimia, club_id: int, actor: str, action: str, payload: Mapping[str, object]) -> None:
    """A key event in the chained audit log: versions and check values, never a key."""
    audit.append(tx, club_id=club_id, actor=actor, action=action, reason=f"MAC key {payload.get('mac_key', action)}",
                 payload=dict(payload), at=service.clock())


def set_terminal_key(service: Kimia, terminal_id: str, merchant_code: str, key: bytes | None, *, actor: str) -> None:
    """Give a registered terminal (fields 41 + 42) its MAC key, or take it away (``None``: the
    terminal then sends no MAC, which only a host run with ``--allow-unkeyed`` accepts). The key is
    stored under the KEK with the next version; the host uses it within seconds (its terminal cache)."""
    if key is not None and len(key) not in MAC_KEY_BYTES:
        raise reject("invalid_request", path="key", detail="a MAC key is 16 or 32 bytes (32 or 64 hex digits)")
    kek = load_kek() if key is not None else None

    def work(tx: Tx) -> None:
        row = tx.one("SELECT t.id, m.club_id, t.mac_key_version FROM terminals t JOIN merchants m ON m.id = t.merchant_id"
                     " WHERE t.terminal_code = ? AND t.merchant_code = ?", (terminal_id, merchant_code))
        if row is None:
            raise reject("unknown_terminal")
        version = int(row[2] or 0) + 1
        enc = wrap(kek, key, terminal_id, merchant_code) if kek is not None and key is not None else None
        check = kcv(key) if key is not None else None
        tx.execute("UPDATE terminals SET mac_key_enc = ?, mac_key_version = ?, mac_key_kcv = ?, mac_key_prev_enc = NULL,"
                   " mac_key_prev_until = NULL WHERE id = ?", (enc, version, check, row[0]))
        payload = {"terminal_id": terminal_id, "merchant_code": merchant_code, "mac_key": "set" if key else "removed",
                   "version": version, "kcv": check}
        _audit(tx, service, row[1], actor, "set_terminal_key", payload)

    service.write(work)
    service.caches.clear()


@dataclass(frozen=True)
class KeyChange:
    """The answer to a terminal's key change: the new key wrapped under the key the request was
    MAC'd with (RFC 3394), its check value and version."""

    wrapped: bytes
    kcv: str
    version: int


def change_key(service: Kimia, terminal_id: str, merchant_code: str, terminal: TerminalContext, under: bytes) -> KeyChange:
    """A terminal's key change (0800, 70=161), authenticated under ``under`` (its current key or,
    within the overlap, its previous one). Under the current key: a new working key of the same
    length becomes current and the old one stays acceptable for :data:`KEY_OVERLAP_S`. Under the
    previous key (a terminal that never got the 0810 and asks again): the same new key is sent
    again, so a repeat never strands the terminal."""
    kek = load_kek()

    def work(tx: Tx) -> KeyChange:
        row = tx.one("SELECT t.id, m.club_id, t.mac_key_enc, t.mac_key_version, t.mac_key_prev_enc FROM terminals t"
                     " JOIN merchants m ON m.id = t.merchant_id WHERE t.terminal_code = ? AND t.merchant_code = ?",
                     (terminal_id, merchant_code))
        if row is None or row[2] is None:
            raise reject("unknown_terminal")
        current = unwrap(kek, row[2], terminal_id, merchant_code)
        if current != under:
            # Asked under the previous key: the new key was made already; send it again.
            if row[4] is None or unwrap(kek, row[4], terminal_id, merchant_code) != under:
                raise reject("unknown_terminal")
            return KeyChange(wrap_for_terminal(under, current), kcv(current), int(row[3]))
        new = secrets.token_bytes(len(current))
        version = int(row[3] or 0) + 1
        tx.execute("UPDATE terminals SET mac_key_enc = ?, mac_key_version = ?, mac_key_kcv = ?, mac_key_prev_enc = ?,"
                   " mac_key_prev_until = ? WHERE id = ?",
                   (wrap(kek, new, terminal_id, merchant_code), version, kcv(new), row[2], int(time.time()) + KEY_OVERLAP_S, row[0]))
        _audit(tx, service, row[1], f"terminal:{terminal_id}", "terminal_key_change",
               {"terminal_id": terminal_id, "merchant_code": merchant_code, "version": version, "kcv": kcv(new)})
        return KeyChange(wrap_for_terminal(current, new), kcv(new), version)

    change: KeyChange = service.write(work)
    service.caches.clear()
    return change


def rotate_kek(service: Kimia, old: Kek, new: Kek, *, actor: str) -> int:
    """Re-encrypt every stored terminal key from ``old`` to ``new`` in one transaction; keys
    already under ``new`` are left alone (a rerun after an interruption is safe). Returns how
    many keys were re-encrypted; afterwards the settings must give ``new``."""

    def work(tx: Tx) -> int:
        changed = 0
        rows = tx.all("SELECT id, terminal_code, merchant_code, mac_key_enc, mac_key_prev_enc FROM terminals"
                      " WHERE mac_key_enc IS NOT NULL OR mac_key_prev_enc IS NOT NULL")
        for row_id, tid, mid, enc, prev in rows:
            values = []
            for stored in (enc, prev):
                if stored is None or kek_id_of(stored) == new.kid:
                    values.append(stored)
                else:
                    values.append(wrap(new, unwrap(old, stored, tid, mid), tid, mid))
            if values != [enc, prev]:
                tx.execute("UPDATE terminals SET mac_key_enc = ?, mac_key_prev_enc = ? WHERE id = ?", (*values, row_id))
                changed += 1
        audit.append(tx, club_id=None, actor=actor, action="rotate_terminal_kek", reason="terminal keys re-encrypted under a new KEK",
                     payload={"from": old.kid, "to": new.kid, "terminals": changed}, at=service.clock())
        return changed

    count: int = service.write(work)
    service.caches.clear()
    return count


def list_terminals(service: Kimia) -> list[TerminalRow]:
    """Every active terminal, with its merchant and club."""
    with service.reading() as tx:
        rows = tx.all(
            "SELECT t.terminal_code, t.merchant_code, t.kind, t.merchant_id, m.name_fa, m.club_id, t.mac_key_enc,"
            " t.mac_key_version, t.mac_key_kcv FROM terminals t JOIN merchants m ON m.id = t.merchant_id WHERE t.active = ?"
            " ORDER BY t.merchant_id, t.terminal_code",
            (True,),
        )
    return [TerminalRow(str(t), str(mc), str(k), int(mid), str(name), int(club), key is not None, int(version or 0), check)
            for t, mc, k, mid, name, club, key, version, check in rows]


def list_members(service: Kimia, *, per_club: int = 3) -> list[MemberKey]:
    """A few members of every club to test with: their ``MK`` values (``A:<account number>``,
    ``M:<mobile>``)."""
    with service.reading() as tx:
        clubs = [int(c) for (c,) in tx.all("SELECT DISTINCT club_id FROM members ORDER BY club_id")]
        out: list[MemberKey] = []
        for club in clubs:
            for (member_id,) in tx.all("SELECT id FROM members WHERE club_id = ? ORDER BY id LIMIT ?", (club, per_club)):
                mobile = tx.one("SELECT lookup FROM member_identifiers WHERE member_id = ? AND kind = 'mobile' ORDER BY id LIMIT 1",
                                (member_id,))
                account = tx.one("SELECT lookup FROM member_identifiers WHERE member_id = ? AND kind = 'account' ORDER BY id LIMIT 1",
                                 (member_id,))
                key = f"A:{account[0]}" if account else f"A:{member_id}"  # a member id only on a database not yet migrated
                out.append(MemberKey(club, int(member_id), key, f"M:{mobile[0]}" if mobile else None))
    return out
