"""The one builder of made-up worlds: owners, clubs (sub- and meta-clubs), marketers, merchants,
branches, terminals (with MAC keys), groups, members with their identifiers and PINs, rule sets,
settings (tiers, conversion, verification), vouchers, lotteries and credit.

Everything goes through the service's public calls (``Admin`` and ``Kimia``), as a club's staff
would make it, so a world is stored exactly as real use stores it. The demo, the service and
terminal tests, the benchmarks and the terminal simulator build with it; the cards, mobiles and
PINs it hands out stay in its :class:`~kimia.world.roster.Roster`, never in the database in clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kimia.service.admin import Admin
from kimia.service.api import Kimia
from kimia.terminal.client import TerminalIdentity
from kimia.world.roster import Roster


def points_rule(*, rule_id: str = "points-base", per_rial: int = 10_000, points: int = 1, funding: dict[str, int] | None = None,
                **effect: Any) -> dict[str, Any]:
    """The rule every world's clubs start from: ``points`` per ``per_rial`` rials, funded by the club
    owner unless ``funding`` says otherwise; ``effect`` adds to the points effect (expiry,
    multipliers, rounding)."""
    amount_fa = f"{per_rial:,}".translate(_FA_DIGITS)
    points_en = "One point" if points == 1 else f"{points} points"
    points_fa = "یک امتیاز" if points == 1 else f"{points}".translate(_FA_DIGITS) + " امتیاز"
    return {
        "id": rule_id,
        "name": {"en": f"{points_en} per {per_rial:,} rials", "fa": f"{points_fa} به ازای هر {amount_fa} ریال"},
        "effects": [{"type": "points", "per_rial": per_rial, "points": points, **effect}],
        "funding": dict(funding) if funding is not None else {"club_owner": 10_000},
    }


_FA_DIGITS = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")


@dataclass(frozen=True)
class Shop:
    """The smallest world: one owner, one club, one merchant."""

    owner_id: int
    club_id: int
    merchant_id: int


@dataclass
class WorldBuilder:
    """Builds on ``service`` as ``actor`` (each call may name another); remembers the terminals
    it registered and what its members carry (``roster``)."""

    service: Kimia
    actor: str = "platform"
    admin: Admin = field(init=False)
    roster: Roster = field(default_factory=Roster)
    terminals: list[TerminalIdentity] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.admin = Admin(self.service)

    def _by(self, actor: str | None) -> str:
        return actor if actor is not None else self.actor

    # --- the platform, owners and clubs ---

    def fee_tariff(self, business_type: str | None, *, percent_bp: int, fixed_rial: int = 0, cap_rial: int | None = None,
                   actor: str | None = None) -> None:
        self.admin.set_fee_tariff(business_type, percent_bp=percent_bp, fixed_rial=fixed_rial, cap_rial=cap_rial, actor=self._by(actor))

    def owner(self, name_fa: str, *, name_en: str = "", sheba: str | None = None, actor: str | None = None) -> int:
        return self.admin.create_owner(name_fa, name_en=name_en, sheba=sheba, actor=self._by(actor))

    def club(self, owner_id: int, name_fa: str, *, name_en: str = "", parent_id: int | None = None, business_type: str | None = None,
             settings: dict[str, Any] | None = None, actor: str | None = None) -> int:
        return self.admin.create_club(owner_id, name_fa, name_en=name_en, parent_id=parent_id, business_type=business_type,
                                      settings=settings, actor=self._by(actor))

    def meta_club(self, name_fa: str, club_ids: list[int], *, share_members: bool = True, actor: str | None = None) -> int:
        return self.admin.create_meta_club(name_fa, club_ids, share_members=share_members, actor=self._by(actor))

    def settings(self, club_id: int, settings: dict[str, Any], *, reason: str, actor: str | None = None) -> None:
        self.admin.update_settings(club_id, settings, actor=self._by(actor), reason=reason)

    def publish(self, club_id: int, body: dict[str, Any], *, reason: str = "", actor: str | None = None) -> int:
        """Publish a rule set; returns its version."""
        return self.admin.publish_rules(club_id, body, actor=self._by(actor), reason=reason)

    def shop(self, owner_fa: str, club_fa: str, merchant_fa: str, *, owner_en: str = "", club_en: str = "", merchant_en: str = "",
             settings: dict[str, Any] | None = None) -> Shop:
        """An owner, their club (with ``settings``) and one merchant in it."""
        owner_id = self.owner(owner_fa, name_en=owner_en)
        club_id = self.club(owner_id, club_fa, name_en=club_en, settings=settings)
        return Shop(owner_id, club_id, self.merchant(club_id, merchant_fa, name_en=merchant_en))

    # --- merchants and terminals ---

    def marketer(self, club_id: int, name_fa: str, *, sheba: str | None = None, actor: str | None = None) -> int:
        return self.admin.create_marketer(club_id, name_fa, sheba=sheba, actor=self._by(actor))

    def merchant(self, club_id: int, name_fa: str, *, name_en: str = "", business_type: str | None = None, sheba: str | None = None,
                 marketer_id: int | None = None, actor: str | None = None) -> int:
        return self.admin.create_merchant(club_id, name_fa, name_en=name_en, business_type=business_type, sheba=sheba,
                                          marketer_id=marketer_id, actor=self._by(actor))

    def branch(self, merchant_id: int, name_fa: str, *, actor: str | None = None) -> int:
        return self.admin.create_branch(merchant_id, name_fa, actor=self._by(actor))

    def terminal(self, merchant_id: int, terminal_code: str, merchant_code: str, *, kind: str = "pos", branch_id: int | None = None,
                 mac_key: bytes | None = None, actor: str | None = None) -> int:
        """Register a terminal (its MAC key, when given, stored under the KEK); remembered with its
        key in ``terminals`` so a simulator can play it."""
        terminal_id = self.admin.create_terminal(merchant_id, terminal_code, merchant_code, kind=kind, branch_id=branch_id,
                                                 mac_key_hex=mac_key.hex() if mac_key else None, actor=self._by(actor))
        self.terminals.append(TerminalIdentity(terminal_code, merchant_code, mac_key=mac_key))
        return terminal_id

    def merchant_group(self, club_id: int, name_fa: str, merchant_ids: list[int], *, name_en: str = "", actor: str | None = None) -> int:
        return self.admin.create_merchant_group(club_id, name_fa, merchant_ids, name_en=name_en, actor=self._by(actor))

    # --- offers ---

    def voucher_template(self, club_id: int, name_fa: str, *, actor: str | None = None, **terms: Any) -> int:
        """A voucher offer; ``terms`` are ``Admin.create_voucher_template``'s (discount, price, merchants...)."""
        return self.admin.create_voucher_template(club_id, name_fa, actor=self._by(actor), **terms)

    def lottery(self, club_id: int, name_fa: str, *, prizes: list[str], seed: str, name_en: str = "", actor: str | None = None) -> int:
        """Open a lottery committed to ``seed`` (which the caller keeps for the draw)."""
        return self.admin.open_lottery(club_id, name_fa, name_en=name_en, prizes=prizes, seed_commitment=Admin.commitment(seed),
                                       actor=self._by(actor))

    # --- members ---

    def member_group(self, club_id: int, name_fa: str, member_ids: list[int] | None = None, *, name_en: str = "",
                     actor: str | None = None) -> int:
        return self.admin.create_member_group(club_id, name_fa, list(member_ids or []), name_en=name_en, actor=self._by(actor))

    def shared_wallet(self, club_id: int, name_fa: str, member_ids: list[int], *, actor: str | None = None) -> int:
        return self.admin.create_shared_wallet(club_id, name_fa, member_ids, actor=self._by(actor))

    def member(self, club_id: int, identifiers: list[tuple[str, str]], *, idem_key: str, **enrolment: Any) -> int:
        """Enrol a member (``enrolment``: ``Kimia.enroll``'s name, referrer, groups, via...); their
        cards and mobiles go to the roster."""
        result = self.service.enroll(club_id, idem_key=idem_key, identifiers=identifiers, **enrolment)
        member_id = int(result["member_id"])
        self.roster.enrolled(member_id, club_id, identifiers)
        return member_id

    def bind(self, club_id: int, member_id: int, kind: str, value: str, *, actor: str | None = None) -> None:
        """Bind another identifier (a second card) to a member, as support would."""
        self.service.bind_identifier(club_id, member_id, kind, value, actor=self._by(actor))
        self.roster.bound(member_id, kind, value)

    def pin(self, club_id: int, member_id: int, pin: str, *, reason: str = "", actor: str | None = None) -> None:
        """Give a member a club PIN (stored hashed; kept in clear only in the roster)."""
        self.service.set_pin(club_id, member_id, pin, actor=self._by(actor), reason=reason)
        self.roster.pin_set(member_id, pin)

    def gift_credit(self, club_id: int, member_id: int, amount_rial: int, *, idem_key: str, reason: str,
                    expires_days: int | None = None, actor: str | None = None) -> dict[str, Any]:
        """Charge gift credit funded by the club itself."""
        return self.service.charge(club_id, member_id, actor=self._by(actor), reason=reason, idem_key=idem_key, kind="gift_credit",
                                   amount_rial=amount_rial, source={"type": "club", "id": club_id}, expires_days=expires_days)


__all__ = ["Shop", "WorldBuilder", "points_rule"]
