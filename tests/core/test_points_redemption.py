"""Paying with points at a purchase (SPEC R7, V1): ``redeem_points`` at the member's tier/group
conversion ratio, decided in the same operation as the rest of the purchase; refused when short;
given back by refunds, reversals and a cancelled hold."""

from __future__ import annotations

from typing import Any

import kimia

from .helpers import CAFE, DAY, MEMBER, assert_decision_sane, at, book, holding, lot, postings, purchase, rejected, rule

NOW = at(2026, 3, 10, 12)
PTS = f"member:{MEMBER}/points"
#: 10 points = 1,000 rials by default; silver 1,500; members of group 7 get 3,000.
CONVERSION: dict[str, Any] = {
    "club_id": 1,
    "default": {"points": 10, "rial": 1_000},
    "by_tier": {"silver": {"points": 10, "rial": 1_500}},
    "by_group": {7: {"points": 10, "rial": 3_000}},
}
#: One point per 10,000 rials, and a 10% discount at the cafe.
BOOK = book([
    rule("pts", {"type": "points", "per_rial": 10_000, "points": 1}),
    rule("disc", {"type": "discount", "percent_bp": 1_000}),
])


def points_member(**extra: Any) -> dict[str, Any]:
    """300 points expiring in 5 days, 500 that never expire, 200 expiring in 2 days."""
    return holding(
        lot("1:0", PTS, 300, expires_at=NOW + 5 * DAY),
        lot("2:0", PTS, 500),
        lot("3:0", PTS, 200, expires_at=NOW + 2 * DAY),
        **extra,
    )


def paying(points: int, amount_rial: int = 1_000_000, **fields: Any) -> dict[str, Any]:
    return purchase(**{"op_id": 50, "amount_rial": amount_rial, "redeem_points": points, "conversion": CONVERSION, **fields})


def test_points_pay_part_of_the_purchase_soonest_expiring_first() -> None:
    d = BOOK.evaluate(paying(400), points_member(), NOW)
    assert_decision_sane(d)
    # 1,000,000 − 10% discount = 900,000; 400 points at 100 rials each pay 40,000 of it.
    assert (d.discount_rial, d.points_redeemed, d.points_redeemed_rial, d.payable_rial) == (100_000, 400, 40_000, 860_000)
    assert sum(leg["amount_rial"] for leg in d.split) == 860_000
    assert [(u["lot_id"], u["amount"]) for u in d.lots_consumed] == [("3:0", 200), ("1:0", 200)]
    assert postings(d, "points_redeemed") == [(PTS, "club:1/points_retired", 400), ("club:1/expense", f"merchant:{CAFE}/credit_accepted", 40_000)]
    # Earning is on the purchase as before: the member still earns their 100 points.
    assert d.points_earned == 100
    after = kimia.apply(points_member(), d)
    assert after.points == 1_000 - 400 + 100


def test_the_receipt_shows_the_points_and_their_value_in_both_languages() -> None:
    d = BOOK.evaluate(paying(400), points_member(), NOW)
    receipt, _ = d.receipt(50, points_member())
    assert (receipt["points_redeemed"], receipt["points_redeemed_rial"], receipt["balance_points"]) == (400, 40_000, 700)
    assert receipt["explanation_en"][0] == "Paid with 400 points: 40,000 rials"
    assert receipt["explanation_fa"][0] == "پرداخت با ۴۰۰ امتیاز: ۴۰٬۰۰۰ ریال"


def test_the_ratio_is_the_members_tier_or_group_ratio() -> None:
    silver = BOOK.evaluate(paying(400), points_member(tier="silver"), NOW)
    assert (silver.points_redeemed, silver.points_redeemed_rial) == (400, 60_000)
    vip = BOOK.evaluate(paying(400), points_member(tier="silver", groups=[7]), NOW)
    assert (vip.points_redeemed, vip.points_redeemed_rial) == (400, 120_000)
    # The same ratio convert_points gives the member.
    converted = kimia.convert_points(CONVERSION, points_member(tier="silver", groups=[7]), op_id=9, now=NOW, points=400)
    assert dict(converted.deltas)[f"member:{MEMBER}/virtual_credit"] == 120_000


def test_more_points_than_held_is_refused_and_changes_nothing() -> None:
    e = rejected("insufficient_balance", lambda: BOOK.evaluate(paying(1_001), points_member(), NOW))
    assert e.path == "redeem_points"
    assert e.params == {"account": "points", "needed": "1001", "available": "1000"}
    # Expired and pending points are not there to spend.
    later = holding(lot("1:0", PTS, 300, expires_at=NOW - 1), lot("2:0", PTS, 500, pending_until=NOW + DAY), lot("3:0", PTS, 100))
    rejected("insufficient_balance", lambda: BOOK.evaluate(paying(101), later, NOW))
    assert BOOK.evaluate(paying(100), later, NOW).lots_consumed[0]["lot_id"] == "3:0"


def test_no_more_points_than_the_purchase_needs() -> None:
    # 900,000 left after the discount is worth 9,000 points: asking for all of them pays everything.
    rich = holding(lot("1:0", PTS, 20_000))
    d = BOOK.evaluate(paying(20_000), rich, NOW)
    assert (d.points_redeemed, d.points_redeemed_rial, d.payable_rial, d.split) == (9_000, 900_000, 0, [])
    # 50 rials left cannot buy a point of 100 rials: the card pays them.
    d = BOOK.evaluate(purchase(op_id=50, amount_rial=90_050, redeem_points=20_000, conversion=CONVERSION), rich, NOW)
    assert (d.discount_rial, d.points_redeemed, d.points_redeemed_rial, d.payable_rial) == (9_005, 810, 81_000, 45)
    # The cap applies before the balance check, so asking for more than held is fine when the purchase needs less.
    d = BOOK.evaluate(purchase(op_id=50, amount_rial=10_000, redeem_points=5_000, conversion=CONVERSION), points_member(), NOW)
    assert (d.points_redeemed, d.points_redeemed_rial, d.payable_rial) == (90, 9_000, 0)


def test_rounding_is_down_by_less_than_one_point() -> None:
    thirds = {"club_id": 1, "default": {"points": 3, "rial": 7}}
    d = BOOK.evaluate(purchase(op_id=50, redeem_points=5, conversion=thirds), points_member(), NOW)
    # 5 points are worth 11.67 rials: 11 rials, and 5 points are needed for them.
    assert (d.points_redeemed, d.points_redeemed_rial) == (5, 11)
    cheap = {"club_id": 1, "default": {"points": 3, "rial": 1}}
    d = BOOK.evaluate(purchase(op_id=50, redeem_points=10, conversion=cheap), points_member(), NOW)
    # 10 points are worth 3.33 rials: 3 rials, which take 9 points; the tenth stays with the member.
    assert (d.points_redeemed, d.points_redeemed_rial) == (9, 3)
    e = rejected("below_threshold", lambda: BOOK.evaluate(purchase(op_id=50, redeem_points=2, conversion=cheap), points_member(), NOW))
    assert (e.path, e.params) == ("redeem_points", {"threshold": "3"})


def test_redemption_not_allowed_without_a_ratio_or_below_the_minimum() -> None:
    for conversion in (None, {"club_id": 1}, {"club_id": 1, "default": {"points": 10, "rial": 0}}, {"club_id": 1, "by_tier": {"gold": {"points": 1, "rial": 1}}}):
        e = rejected("points_redemption_not_allowed", lambda: BOOK.evaluate(purchase(redeem_points=10, conversion=conversion), points_member(), NOW))
        assert e.path == "redeem_points" and e.message_fa
    e = rejected("below_threshold", lambda: BOOK.evaluate(paying(99, conversion={**CONVERSION, "min_points": 100}), points_member(), NOW))
    assert e.params == {"threshold": "100"}
    rejected("amount_must_be_positive", lambda: BOOK.evaluate(paying(-1), points_member(), NOW))
    rejected("amount_too_large", lambda: BOOK.evaluate(paying(10**16), points_member(), NOW))
    # Without points nothing needs a ratio.
    assert BOOK.evaluate(purchase(redeem_points=0), points_member(), NOW).points_redeemed == 0


def test_points_and_credit_together() -> None:
    member = holding(lot("1:0", PTS, 1_000), lot("2:0", f"member:{MEMBER}/gift_credit", 100_000))
    d = BOOK.evaluate(paying(500, redeem_credit_rial=30_000), member, NOW)
    assert_decision_sane(d)
    assert (d.points_redeemed_rial, d.credit_used_rial, d.payable_rial) == (50_000, 30_000, 820_000)


def _lots(m: kimia.Member) -> dict[tuple[str, int | None], int]:
    out: dict[tuple[str, int | None], int] = {}
    for item in m.to_dict()["lots"]:
        key = (item["account"], item["expires_at"])
        out[key] = out.get(key, 0) + item["remaining"]
    return out


def test_refunds_and_the_reversal_give_the_points_back_with_their_expiry() -> None:
    start = kimia.Member(points_member())
    d = BOOK.evaluate(paying(400), start, NOW)
    after = kimia.apply(start, d)
    refund = kimia.reverse(d, after, op_id=60, now=NOW + 10, refund_rial=250_000)
    assert refund.points_redeemed == -100 and refund.points_redeemed_rial == -10_000
    assert refund.payable_rial == -250_000 + 25_000 + 10_000
    assert postings(refund, "restore_redeemed_points") == [("club:1/points_retired", PTS, 100)]
    receipt, _ = refund.receipt(60, after)
    assert receipt["explanation_en"][0] == "100 points given back (10,000 rials)"
    after = kimia.apply(after, refund)
    rest = kimia.reverse(d, after, op_id=61, now=NOW + 20, refunded_before_rial=250_000)
    assert (rest.points_redeemed, rest.points_redeemed_rial) == (-300, -30_000)
    back = kimia.apply(after, rest)
    assert back.points == 1_000
    assert _lots(back) == _lots(start)


def test_a_hold_reserves_the_points_completion_keeps_them_cancel_returns_them() -> None:
    start = kimia.Member(points_member())
    d = BOOK.evaluate(paying(400), start, NOW)
    hold = kimia.hold(d)
    assert hold.points_redeemed == 400
    assert dict(hold.deltas) == {PTS: -400, f"member:{MEMBER}/held_points@hold:50": 400}
    held = kimia.apply(start, hold)
    assert held.points == 600
    # The points held cannot be redeemed again.
    rejected("insufficient_balance", lambda: BOOK.evaluate(purchase(op_id=51, redeem_points=601, conversion=CONVERSION), held, NOW))

    done = kimia.complete_hold(d, op_id=70, now=NOW + 60)
    assert postings(done, "points_redeemed") == [
        (f"member:{MEMBER}/held_points@hold:50", "club:1/points_retired", 400), ("club:1/expense", f"merchant:{CAFE}/credit_accepted", 40_000),
    ]
    completed = kimia.apply(held, done)
    assert completed.balance(f"member:{MEMBER}/held_points@hold:50") == 0
    assert completed.points == 700
    # Reversing the completed purchase gives the held points back as lots with their expiries.
    reversal = kimia.reverse(done, completed, op_id=71, now=NOW + 120)
    assert reversal.points_redeemed == -400
    assert _lots(kimia.apply(completed, reversal)) == _lots(start)

    cancel = kimia.cancel_hold(hold, op_id=72, now=NOW + 60)
    assert _lots(kimia.apply(held, cancel)) == _lots(start)


def test_a_decision_stored_before_points_redemption_still_loads() -> None:
    d = BOOK.evaluate(purchase(), points_member(), NOW)
    data = d.to_dict()
    del data["points_redeemed"], data["points_redeemed_rial"]
    import json

    old = kimia.Decision.from_json(json.dumps(data))
    assert (old.points_redeemed, old.points_redeemed_rial) == (0, 0)
    assert kimia.reverse(old, kimia.apply(points_member(), old), op_id=9, now=NOW + 1).points_redeemed == 0


def test_undoing_a_refund_takes_the_returned_points_again() -> None:
    start = kimia.Member(points_member())
    d = BOOK.evaluate(paying(400), start, NOW)
    after = kimia.apply(start, d)
    refund = kimia.reverse(d, after, op_id=60, now=NOW + 10, refund_rial=500_000)
    refunded = kimia.apply(after, refund)
    assert refunded.points == after.points + 200 - 50
    undo = kimia.invert(refund, refunded, op_id=61, now=NOW + 20)
    assert (undo.points_redeemed, undo.points_redeemed_rial) == (200, 20_000)
    again = kimia.apply(refunded, undo)
    assert again.points == after.points
    assert _lots(again) == _lots(after)


def test_a_small_refund_gives_back_points_only_as_lots() -> None:
    """Two lots of one point each pay 2 of 3 rials; a refund of 2 rials gives back less than a point
    of each lot (nothing yet), and the refund of the rest gives back both: the points balance always
    equals the points in lots, and the whole round trip gives back exactly what was redeemed."""
    one_each = holding(lot("1:0", PTS, 1, expires_at=NOW + DAY), lot("2:0", PTS, 1))
    start = kimia.Member(one_each)
    d = book([]).evaluate(purchase(op_id=50, amount_rial=3, redeem_points=2, conversion={"club_id": 1, "default": {"points": 1, "rial": 1}}), start, NOW)
    assert (d.points_redeemed, d.payable_rial) == (2, 1)
    after = kimia.apply(start, d)
    refund = kimia.reverse(d, after, op_id=60, now=NOW + 10, refund_rial=2)
    refunded = kimia.apply(after, refund)
    assert refunded.points == sum(n for (account, _), n in _lots(refunded).items() if account == PTS)
    rest = kimia.reverse(d, refunded, op_id=61, now=NOW + 20, refunded_before_rial=2)
    back = kimia.apply(refunded, rest)
    assert back.points == 2 and _lots(back) == _lots(start)
    assert refund.points_redeemed + rest.points_redeemed == -2
