"""What a made-up world's members carry: their cards, mobiles and PINs, in clear.

The database never holds a card number or a PIN in clear (cards are keyed hashes, PINs scrypt
hashes), so a tool that plays cardholders against a demo (the terminal simulator) cannot read them
back from it. The world keeps them here instead: in the memory of the test or demo process that
made them, and, for a demo, in a demo-only JSON file beside it (:meth:`Roster.save`), never in the
database. A roster of real members must never exist.
"""

from __future__ import annotations

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
    """Cardholders by member id, as the world enrolled them."""

    members: dict[int, Cardholder] = field(default_factory=dict)

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
        body = json.dumps({"cardholders": [asdict(h) for h in self.members.values()]}, ensure_ascii=False, indent=1)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Roster:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        holders = [Cardholder(**h) for h in loaded.get("cardholders", [])]
        return cls({h.member_id: h for h in holders})


def roster_path_for(url: str) -> Path:
    """Where a demo on the database at ``url`` keeps its roster: beside an SQLite file
    (``kimia.db`` -> ``kimia.db.roster.json``), else ``.kimia/demo.roster.json`` here."""
    from kimia.store.engine import is_sqlite, sqlite_path

    path = sqlite_path(url) if is_sqlite(url) else None
    return Path(f"{path}.roster.json") if path is not None else Path(".kimia") / "demo.roster.json"


__all__ = ["Cardholder", "Roster", "roster_path_for"]
