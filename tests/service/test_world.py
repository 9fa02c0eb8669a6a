"""The one world builder (kimia.world): what it builds is stored as the service stores real use,
and what its members carry (cards, mobiles, PINs) stays in its roster, never in the database."""

from __future__ import annotations

import stat
from pathlib import Path

from kimia.service import Kimia
from kimia.world import Roster, WorldBuilder, points_rule

from .builders import all_text, audit, card_number, mobile, rows


def test_a_world_records_what_its_members_carry_and_the_database_does_not(service: Kimia, tmp_path: Path) -> None:
    b = WorldBuilder(service, actor="world-test")
    shop = b.shop("مالک", "باشگاه", "کافه", settings={"verification": {"redeem": [], "bind": []}})
    b.terminal(shop.merchant_id, "T0000001", "M00000000000001", mac_key=bytes(range(16)))
    b.publish(shop.club_id, {"rules": [points_rule()]}, reason="world test")
    first, second = card_number(11), card_number(12)
    member = b.member(shop.club_id, [("card", first), ("mobile", mobile(11))], idem_key="world-1")
    b.bind(shop.club_id, member, "card", second)
    b.pin(shop.club_id, member, "4321", reason="world test")

    holder = b.roster.members[member]
    assert (holder.club_id, holder.cards, holder.mobiles, holder.pin) == (shop.club_id, [first, second], [mobile(11)], "4321")
    assert b.roster.cards({shop.club_id}) == [first, second]
    assert [(t.terminal_id, t.merchant_id, t.mac_key) for t in b.terminals] == [("T0000001", "M00000000000001", bytes(range(16)))]
    assert [actor for actor, _, _ in audit(service, "create_club")] == ["world-test"]
    kinds = sorted(kind for (kind,) in rows(service, "SELECT kind FROM member_identifiers WHERE member_id = ?", (member,)))
    assert kinds.count("card") == 2 and "mobile" in kinds
    # Neither card nor PIN is anywhere in the database in clear.
    assert not [(t, c) for t, c, text in all_text(service) if first in text or second in text or text == "4321"]

    path = b.roster.save(tmp_path / "demo" / "kimia.db.roster.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # cards in clear: the owner's eyes only
    assert Roster.load(path) == b.roster


def test_the_points_rule_is_the_one_the_worlds_start_from() -> None:
    rule = points_rule(rule_id="base", expires_days=365)
    assert rule == {
        "id": "base",
        "name": {"en": "One point per 10,000 rials", "fa": "یک امتیاز به ازای هر ۱۰٬۰۰۰ ریال"},
        "effects": [{"type": "points", "per_rial": 10_000, "points": 1, "expires_days": 365}],
        "funding": {"club_owner": 10_000},
    }
