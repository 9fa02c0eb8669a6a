"""Issue 12, item 10: a purchase undone in full gives back every counter it moved: the purchase
count, the purchases at the merchant, the day's purchases and spend, and the last purchase time,
so a reversed win-back purchase does not block the next win-back. Undoing the refund (a terminal
reversal of it) makes the purchase count again."""

from __future__ import annotations

from typing import Any

from .builders import DAY_S, World, rows

WIN_BACK = {
    "id": "win-back",
    "name": {"en": "Welcome back: 500 points after 60 days away", "fa": "خوش برگشتی: ۵۰۰ امتیاز پس از ۶۰ روز"},
    "conditions": [{"type": "days_since_last_purchase", "min": 60}],
    "effects": [{"type": "points", "fixed": 500}],
    "funding": {"club_owner": 10_000},
}


def counters(world: World, member: int) -> dict[str, Any]:
    """Every counter a purchase moves, as the rules see them (days with nothing left are left out)."""
    (count, last), = rows(world.service, "SELECT purchase_count, last_purchase_at FROM members WHERE id = ?", (member,))
    return {
        "purchase_count": count,
        "last_purchase_at": last,
        "visits": dict(rows(world.service, "SELECT merchant_id, count FROM merchant_visits WHERE member_id = ? AND count <> 0", (member,))),
        "days": {d: (c, s) for d, c, s in rows(world.service, "SELECT day, count, spend_rial FROM member_days WHERE member_id = ?", (member,))
                 if c or s},
    }


def away_then_back(world: World) -> tuple[int, int, dict[str, Any], dict[str, Any]]:
    """A member who bought once, came back after 90 days (a win-back purchase): (member, first
    purchase time, the win-back purchase's receipt, the counters just before it)."""
    world.publish([WIN_BACK])
    member = world.enroll()
    first_at = world.clock.now
    first = world.buy(member, 1_000_000, merchant="restaurant")
    assert "win-back" not in first["applied_rules"]  # a member with no purchase yet never matches
    world.clock.advance(days=90)
    before = counters(world, member)
    back = world.buy(member, 1_000_000, merchant="cafe")
    assert "win-back" in back["applied_rules"]
    return member, first_at, back, before


def test_a_full_reversal_restores_the_last_purchase_time_and_the_next_win_back(world: World) -> None:
    member, first_at, back, before = away_then_back(world)
    assert counters(world, member)["last_purchase_at"] == world.clock.now
    world.clock.advance(hours=1)
    world.service.refund(world.merchants["cafe"], idem_key="undo-back", op_id=back["op_id"])
    assert counters(world, member) == before
    assert before["last_purchase_at"] == first_at
    again = world.buy(member, 1_000_000, merchant="cafe")
    assert "win-back" in again["applied_rules"] and again["points_earned"] == back["points_earned"]


def test_a_full_refund_in_parts_and_a_terminal_reversal_restore_the_counters(world: World) -> None:
    member, first_at, back, before = away_then_back(world)
    world.service.refund(world.merchants["cafe"], idem_key="part-1", op_id=back["op_id"], amount_rial=400_000)
    assert counters(world, member)["last_purchase_at"] == world.clock.now  # partly refunded: still a purchase
    rest = world.service.refund(world.merchants["cafe"], idem_key="part-2", op_id=back["op_id"], amount_rial=600_000)
    assert counters(world, member) == before
    # The terminal reverses the last refund: the purchase stands again, and so do its counters.
    undone = world.service.reverse_by_key(world.merchants["cafe"], "part-2", idem_key="undo-part-2")
    assert undone["original_op_id"] == rest["op_id"]
    after = counters(world, member)
    assert after["purchase_count"] == before["purchase_count"] + 1
    assert after["last_purchase_at"] == first_at + 90 * DAY_S
    # A terminal reversal of a purchase goes through the same path as a full refund.
    late = world.buy(member, 500_000, merchant="cafe", idem_key="late")
    assert late["op_id"] and counters(world, member)["last_purchase_at"] == world.clock.now
    world.clock.advance(minutes=5)
    world.service.reverse_by_key(world.merchants["cafe"], "late", idem_key="reverse-late")
    assert counters(world, member) == after
