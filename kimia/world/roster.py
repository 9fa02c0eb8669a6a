"""What a made-up world's members carry: their cards, mobiles and PINs, in clear.

The database never holds a card number or a PIN in clear (cards are keyed hashes, PINs scrypt
hashes), so a tool that plays cardholders against a demo (the terminal simulator) cannot read them
back from it. The world keeps them here instead: in the memory of the test or demo process that
made them, and, for a demo, in a demo-only JSON file beside it (:meth:`Roster.save`), never in the
database. A roster of real members must never exist.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: The kinds of identifier a roster keeps (the others name a member but prove nothing).
KEPT_KINDS = ("card", "mobile")


@dataclass
class Cardholder:
    """One member and what they can show at a counter."""

    member_id: int
    club_id: int
    cards: list[str] = field(default_factory=list)
    mobiles: list[str] = field(default_factory=list)
    pin: str | None = None


@dataclass
class Roster:
    """Cardholders by member id, as the world enrolled them; ``database`` names the database
    they are members of (:func:`database_key`), so a roster is never played against another one."""

    members: dict[int, Cardholder] = field(default_factory=dict)
    database: str = ""

    def enrolled(self, member_id: int, club_id: int, identifiers: list[tuple[str, str]]) -> Cardholder:
        holder = self.members.setdefault(member_id, Cardholder(member_id, club_id))
        for kind, value in identifiers:
            self.bound(member_id, kind, value)
        return holder

    def bound(self, member_id: int, kind: str, value: str) -> None:
        holder = self.members[member_id]
        if kind == "card":
            holder.cards.append(value)
        elif kind == "mobile":
            holder.mobiles.append(value)

    def pin_set(self, member_id: int, pin: str) -> None:
        self.members[member_id].pin = pin

    def of_clubs(self, club_ids: set[int]) -> list[Cardholder]:
        return [h for h in self.members.values() if h.club_id in club_ids]

    def cards(self, club_ids: set[int]) -> list[str]:
        """Every card of the members of ``club_ids``, in enrolment order."""
        return [card for h in self.of_clubs(club_ids) for card in h.cards]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the roster to a demo-only file (owner-readable only: it holds cards in clear)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"database": self.database, "cardholders": [asdict(h) for h in self.members.values()]},
                          ensure_ascii=False, indent=1)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Roster:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        holders = [Cardholder(**h) for h in loaded.get("cardholders", [])]
        return cls({h.member_id: h for h in holders}, str(loaded.get("database", "")))


def database_key(url: str) -> str:
    """A name for the database at ``url`` that a roster can carry without its password."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def roster_path_for(url: str) -> Path | None:
    """Where a demo on the SQLite database at ``url`` keeps its roster by default: beside the
    database file (``kimia.db`` -> ``kimia.db.roster.json``). None for other databases (a path is
    then given explicitly, as ``scripts/run.sh`` does)."""
    from kimia.store.engine import is_sqlite, sqlite_path

    path = sqlite_path(url) if is_sqlite(url) else None
    return Path(f"{path}.roster.json") if path is not None else None


__all__ = ["Cardholder", "Roster", "database_key", "roster_path_for"]
