"""The keys under which card numbers (bank and club cards) are hashed, and their rotation.

A process hashes new cards under its *current* key and finds a card under the current key or any
*older* key it still holds; each stored hash carries the id of its key (``key_id``, derived from
the key). A card found under an older key is re-hashed under the current one by the next write
that meets it, so an older key can be dropped once ``kimia card-keys`` counts no card under it.

Settings (read by kimia.settings): ``KIMIA_CARD_HASH_KEY`` (the current key, at least 32
characters), ``KIMIA_CARD_HASH_OLD_KEYS`` (older keys, separated by commas or spaces) and
``KIMIA_DEV_MODE=1`` (allow the development key written in the source when no key is set: demos
and tests only).
Without a key and outside development mode the service refuses to start (``card_key_missing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kimia import identifiers as ids
from kimia.errors import reject
from kimia.service.sql import Tx

#: The key used to hash card numbers in development mode: written here, so never for production.
DEV_CARD_KEY = b"kimia-development-card-hash-key"
#: A key shorter than this is refused (a random 32-character key carries about 190 bits).
MIN_KEY_LENGTH = 32
#: Identifier kinds stored as a keyed hash: both spend value, and their number spaces are small.
HASHED_KINDS = ("card", "club_card")


@dataclass(frozen=True)
class CardKeys:
    """The current key and the older keys still accepted for lookups, newest first."""

    current: bytes
    older: tuple[bytes, ...] = ()
    development: bool = False

    @classmethod
    def resolve(
        cls,
        card_key: bytes | None = None,
        old_card_keys: Sequence[bytes] = (),
        *,
        dev_mode: bool = False,
    ) -> CardKeys:
        """The keys of a process (its settings' ``card_key``, ``old_card_keys``, ``dev_mode``);
        refused (``card_key_missing``, ``card_key_weak``) unless they are real keys or development
        mode is on."""
        current, older, dev = card_key or None, tuple(old_card_keys), dev_mode
        if current is None:
            if not dev:
                raise reject("card_key_missing")
            return cls(DEV_CARD_KEY, older, development=True)
        if not dev:
            for key in (current, *older):
                if len(key) < MIN_KEY_LENGTH or key == DEV_CARD_KEY:
                    raise reject("card_key_weak", min_length=MIN_KEY_LENGTH)
        return cls(current, tuple(k for k in older if k != current), development=current == DEV_CARD_KEY)

    @property
    def current_id(self) -> str:
        return ids.key_id(self.current)

    def all_keys(self) -> tuple[bytes, ...]:
        return (self.current, *self.older)

    def ids(self) -> list[str]:
        """Key ids, current first."""
        return [ids.key_id(k) for k in self.all_keys()]

    def hash(self, kind: str, canonical: str, key: bytes | None = None) -> str:
        """The stored lookup of a validated card or club card number under ``key`` (the current one)."""
        key = self.current if key is None else key
        return ids.card_hash(canonical, key) if kind == "card" else ids.club_card_hash(canonical, key)

    def lookups(self, kind: str, canonical: str) -> list[tuple[str, str | None]]:
        """Every stored form a card may have, as (lookup, key id), current key first. A club card
        may still be stored in clear (key id NULL) from before hashing; ``kimia rehash-cards``
        hashes those."""
        found: list[tuple[str, str | None]] = [(self.hash(kind, canonical, k), ids.key_id(k)) for k in self.all_keys()]
        if kind == "club_card":
            found.append((canonical, None))
        return found


def key_report(tx: Tx, keys: CardKeys) -> list[tuple[str, str, str, int]]:
    """(key id, status, kind, identifiers) for every key id stored beside a card hash: the status
    is ``current``, ``older`` (still accepted), ``unknown`` (not held by this process: those cards
    cannot be found), ``none`` (from before revision 0005: found under any held key, stamped when
    next used) or ``clear`` (a club card not hashed yet: ``kimia rehash-cards``)."""
    held = keys.ids()
    out = []
    for key, kind, count, clear in tx.all(
        "SELECT key_id, kind, COUNT(*), SUM(CASE WHEN LENGTH(lookup) < 64 THEN 1 ELSE 0 END) FROM member_identifiers"
        " WHERE kind IN ('card', 'club_card') GROUP BY key_id, kind ORDER BY key_id, kind"
    ):
        if key is None and kind == "club_card" and clear:
            out.append(("-", "clear", kind, int(clear)))
            count -= int(clear)
        if count:
            status = "none" if key is None else "current" if key == held[0] else "older" if key in held else "unknown"
            out.append((key or "-", status, kind, int(count)))
    return out


def hash_clear_club_cards(tx: Tx, keys: CardKeys) -> int:
    """Hash, under the current key, every club card still stored in clear; returns how many."""
    rows = tx.all("SELECT id, lookup FROM member_identifiers WHERE kind = 'club_card' AND key_id IS NULL AND LENGTH(lookup) < 64")
    current_id = keys.current_id
    for row_id, number in rows:
        tx.execute("UPDATE member_identifiers SET lookup = ?, key_id = ? WHERE id = ?",
                   (keys.hash("club_card", number), current_id, row_id))
    return len(rows)


__all__ = ["DEV_CARD_KEY", "HASHED_KINDS", "MIN_KEY_LENGTH", "CardKeys", "hash_clear_club_cards", "key_report"]
