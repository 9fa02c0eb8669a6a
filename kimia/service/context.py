"""Per-process caches of slowly changing data: merchants, clubs, terminals and compiled rulebooks.

Entries live for a short time (``TTL_S``) so several processes sharing one database see each
other's changes soon; changes made through this process invalidate its own caches at once.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kimia._core import Rulebook
from kimia.errors import reject
from kimia.service.sql import Tx
from kimia.service.terminalkeys import load_kek, unwrap

TTL_S = 5.0
#: The ``effective_from`` of "no rule set at all": before any time a clock gives.
_BEFORE_ALL = -(2**62)


@dataclass(frozen=True)
class MerchantContext:
    merchant_id: int
    club_id: int  # the merchant's own club or sub-club
    root_club_id: int  # the club whose rule set and ledger the merchant belongs to
    club_path: tuple[int, ...]  # innermost first
    groups: tuple[int, ...]
    business_type: str | None
    marketer_id: int | None
    active: bool
    #: Offset of the merchant's club's local time from UTC (its root club's ``utc_offset_min``):
    #: the local day of the merchant's operations, settlement and member history.
    utc_offset_min: int = 210


@dataclass(frozen=True)
class TerminalContext:
    terminal_id: int
    merchant_id: int
    branch_id: int | None
    kind: str
    #: The MAC key in clear, decrypted from the database with the KEK; in memory only, never shown.
    mac_key: bytes | None = field(default=None, repr=False)
    mac_key_version: int = 0
    #: The key before the last key change, accepted until ``mac_key_prev_until`` (Unix time).
    mac_key_prev: bytes | None = field(default=None, repr=False)
    mac_key_prev_until: int = 0


def int_keys(body: dict[str, Any]) -> dict[str, Any]:
    """A rule set as read back from JSON, with the member-group ids keying ``group_multipliers_bp``
    turned back into integers (JSON object keys are always strings; the core wants ids)."""
    for rule in body.get("rules", []):
        for effect in rule.get("effects", []):
            multipliers = effect.get("group_multipliers_bp")
            if isinstance(multipliers, dict):
                effect["group_multipliers_bp"] = {int(k): v for k, v in multipliers.items()}
    return body


class Caches:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, Any], tuple[float, Any]] = {}

    def get(self, key: tuple[str, Any]) -> Any:
        with self._lock:
            hit = self._items.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key: tuple[str, Any], value: Any) -> Any:
        with self._lock:
            self._items[key] = (time.monotonic() + TTL_S, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def club_path(self, tx: Tx, club_id: int) -> tuple[int, ...]:
        cached = self.get(("club_path", club_id))
        if cached is not None:
            return tuple(cached)
        path: list[int] = []
        current: int | None = club_id
        while current is not None and len(path) < 32:
            row = tx.one("SELECT parent_id FROM clubs WHERE id = ?", (current,))
            if row is None:
                raise reject("unknown_club")
            path.append(current)
            current = row[0]
        return tuple(self.put(("club_path", club_id), tuple(path)))

    def root_club(self, tx: Tx, club_id: int) -> int:
        return self.club_path(tx, club_id)[-1]

    def utc_offset_min(self, tx: Tx, club_id: int) -> int:
        """Offset of a club's local time from UTC, in minutes: its root club's (one ledger, one day)."""
        root = self.root_club(tx, club_id)
        cached = self.get(("utc_offset_min", root))
        if cached is not None:
            return int(cached)
        row = tx.one("SELECT utc_offset_min FROM clubs WHERE id = ?", (root,))
        if row is None:
            raise reject("unknown_club")
        return int(self.put(("utc_offset_min", root), int(row[0])))

    def local_day(self, tx: Tx, club_id: int, now: int) -> int:
        """The club's local day of Unix time ``now`` (days since 1970-01-01, local)."""
        return (now + self.utc_offset_min(tx, club_id) * 60) // 86_400

    def merchant(self, tx: Tx, merchant_id: int) -> MerchantContext:
        cached = self.get(("merchant", merchant_id))
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        row = tx.one("SELECT club_id, business_type, marketer_id, active FROM merchants WHERE id = ?", (merchant_id,))
        if row is None:
            raise reject("unknown_merchant")
        path = self.club_path(tx, row[0])
        groups = tuple(g for (g,) in tx.all("SELECT group_id FROM merchant_group_members WHERE merchant_id = ?", (merchant_id,)))
        ctx = MerchantContext(merchant_id, row[0], path[-1], path, groups, row[1], row[2], bool(row[3]), self.utc_offset_min(tx, path[-1]))
        return self.put(("merchant", merchant_id), ctx)  # type: ignore[no-any-return]

    def terminal(self, tx: Tx, terminal_code: str, merchant_code: str) -> TerminalContext:
        key = ("terminal", (terminal_code, merchant_code))
        cached = self.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        row = tx.one(
            "SELECT id, merchant_id, branch_id, kind, mac_key_enc, mac_key_version, mac_key_prev_enc, mac_key_prev_until"
            " FROM terminals WHERE terminal_code = ? AND merchant_code = ? AND active = ?",
            (terminal_code, merchant_code, True),
        )
        if row is None:
            raise reject("unknown_terminal")
        mac_key = prev = None
        if row[4] is not None or row[6] is not None:
            kek = load_kek()
            mac_key = unwrap(kek, row[4], terminal_code, merchant_code) if row[4] is not None else None
            prev = unwrap(kek, row[6], terminal_code, merchant_code) if row[6] is not None else None
        ctx = TerminalContext(row[0], row[1], row[2], row[3], mac_key, int(row[5] or 0), prev, int(row[7] or 0))
        return self.put(key, ctx)  # type: ignore[no-any-return]

    def rulebook(self, tx: Tx, club_id: int, *, now: int) -> Rulebook:
        """The club's rule set in effect at ``now``: the newest version whose ``effective_from``
        has come. Kept until the next published version takes effect (and at most ``TTL_S``), so
        a version published for later is used from its moment on, never before, by every process."""
        cached = self.get(("rulebook", club_id))
        if cached is not None:
            book, since, until = cached
            if since <= now and (until is None or now < until):
                return book  # type: ignore[no-any-return]
        row = tx.one("SELECT body, effective_from, version FROM rule_sets WHERE club_id = ? AND effective_from <= ?"
                     " ORDER BY version DESC LIMIT 1", (club_id, now))
        if row is None:
            body: Any = {"club_id": club_id, "rules": []}
            since, version = _BEFORE_ALL, 0
        else:
            body = row[0] if isinstance(row[0], dict) else json.loads(row[0])
            since, version = int(row[1]), int(row[2])
        # Every later version takes effect after ``now`` (else it would be the one in effect).
        later = tx.one("SELECT MIN(effective_from) FROM rule_sets WHERE club_id = ? AND version > ?", (club_id, version))
        until = int(later[0]) if later is not None and later[0] is not None else None
        book = Rulebook(int_keys(body))
        self.put(("rulebook", club_id), (book, since, until))
        return book
