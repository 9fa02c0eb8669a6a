"""What a terminal vendor needs from the host's database: terminal ids, merchant ids, test member
keys, and the MAC key of a terminal (``kimia terminal list`` / ``kimia terminal set-key``).

The MAC key is written in exactly one place, :func:`set_terminal_key`, so that keeping keys
encrypted at rest later changes one function. The key is never logged, and the audit log records
only that a key was set, never the key.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from kimia.errors import reject
from kimia.service.api import Kimia
from kimia.service.sql import Tx

__all__ = ["MemberKey", "TerminalRow", "list_members", "list_terminals", "new_mac_key", "set_terminal_key"]

#: AES-128 or AES-256: the key lengths AES-CMAC takes (bytes).
MAC_KEY_BYTES = (16, 32)


@dataclass(frozen=True)
class TerminalRow:
    terminal_id: str  # field 41
    merchant_code: str  # field 42
    kind: str  # pos | pcpos
    merchant_id: int
    merchant_name: str
    club_id: int
    has_mac_key: bool


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


def set_terminal_key(service: Kimia, terminal_id: str, merchant_code: str, key: bytes | None, *, actor: str) -> None:
    """Give a registered terminal (fields 41 + 42) its MAC key, or take it away (``None``: the
    terminal then sends no MAC). The host uses it within seconds (its terminal cache)."""
    if key is not None and len(key) not in MAC_KEY_BYTES:
        raise reject("invalid_request", path="key", detail="a MAC key is 16 or 32 bytes (32 or 64 hex digits)")
    value = key.hex() if key is not None else None

    def work(tx: Tx) -> None:
        row = tx.one("SELECT t.id, m.club_id FROM terminals t JOIN merchants m ON m.id = t.merchant_id"
                     " WHERE t.terminal_code = ? AND t.merchant_code = ?", (terminal_id, merchant_code))
        if row is None:
            raise reject("unknown_terminal")
        tx.execute("UPDATE terminals SET mac_key_hex = ? WHERE id = ?", (value, row[0]))
        payload = {"terminal_id": terminal_id, "merchant_code": merchant_code, "mac_key": "set" if value else "removed"}
        tx.execute("INSERT INTO audit_log (club_id, actor, action, reason, payload, at) VALUES (?,?,?,?,?,?)",
                   (row[1], actor, "set_terminal_key", "", json.dumps(payload), service.clock()))

    service.write(work)
    service.caches.clear()


def list_terminals(service: Kimia) -> list[TerminalRow]:
    """Every active terminal, with its merchant and club."""
    with service.reading() as tx:
        rows = tx.all(
            "SELECT t.terminal_code, t.merchant_code, t.kind, t.merchant_id, m.name_fa, m.club_id, t.mac_key_hex"
            " FROM terminals t JOIN merchants m ON m.id = t.merchant_id WHERE t.active = ? ORDER BY t.merchant_id, t.terminal_code",
            (True,),
        )
    return [TerminalRow(str(t), str(mc), str(k), int(mid), str(name), int(club), bool(key)) for t, mc, k, mid, name, club, key in rows]


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
