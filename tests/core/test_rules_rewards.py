"""R6–R14 — rewards: discounts, points, merchant/club/virtual credit, lotteries, cashback,
credit-spend discounts and funding shares."""

from __future__ import annotations

from typing import Any

import pytest

import kimia

from .helpers import (
    BAKERY,
    CAFE,
    DAY,
    GARAGE,
    SHOE_SHOP,
    assert_decision_sane,
    at,
    book,
    check_line,
    deltas,
    holding,
    lines,
    lot,
    member,
    postings,
    purchase,
    rejected,
    rule,
    ruleset,
)

NOW = at(2026, 12, 17, 11)
M = "member:42"


# --- R6: cash discount -------------------------------------------------------------------------

R6_CASES: list[tuple[str, dict[str, Any], int, int]] = [
    ("percent", {"percent_bp": 1500}, 1_000_000, 150_000),
    ("percent floors", {"percent_bp": 1500}, 999_999, 149_999),
    ("percent capped", {"percent_bp": 1500, "cap_rial": 300_000}, 3_000_000, 300_000),
    ("percent under cap", {"percent_bp": 1500, "cap_rial": 300_000}, 1_000_000, 150_000),
    ("fixed", {"fixed_rial": 50_000}, 1_000_000, 50_000),
    ("percent plus fixed", {"percent_bp": 1000, "fixed_rial": 5_000}, 1_000_000, 105_000),
    ("percent plus fixed capped", {"percent_bp": 1000, "fixed_rial": 5_000, "cap_rial": 100_000}, 1_000_000, 100_000),
    ("fixed above amount", {"fixed_rial": 2_000_000}, 1_000_000, 1_000_000),
    ("hundred percent", {"percent_bp": 10_000}, 123_457, 123_457),
    ("cap zero", {"percent_bp": 1000, "cap_rial": 0}, 1_000_000, 0),
]


@pytest.mark.parametrize(("effect", "amount", "discount"), [c[1:] for c in R6_CASES], ids=[c[0] for c in R6_CASES])
def test_r6_discount(effect: dict[str, Any], amount: int, discount: int) -> None:
    b = book([rule("r", {"type": "discount", **effect})])
    d = b.evaluate(purchase(amount_rial=amount), member(), NOW)
    assert_decision_sane(d)
    assert d.discount_rial == discount
    assert d.payable_rial == amount - discount
    if discount:
        check_line(lines(d)["r"], "applied")
        assert lines(d)["r"]["discount_rial"] == discount
        assert f"{discount:,} rials off" in lines(d)["r"]["message_en"]
        assert postings(d) == [(f"merchant:{CAFE}/expense", f"merchant:{CAFE}/discount_given", discount)]
    else:
        check_line(lines(d)["r"], "nothing_to_give")
    if discount == amount:
        assert d.split == []


def test_r6_discount_stacked_never_exceeds_amount() -> None:
    b = book(
        [
            rule("big", {"type": "discount", "fixed_rial": 700_000}, priority=10),
            rule("small", {"type": "discount", "fixed_rial": 700_000}),
            rule("more", {"type": "discount", "percent_bp": 5000}),
        ]
    )
    d = b.evaluate(purchase(), member(), NOW)
    assert_decision_sane(d)
    assert d.discount_rial == 1_000_000 and d.payable_rial == 0
    assert lines(d)["big"]["discount_rial"] == 700_000
    assert lines(d)["small"]["discount_rial"] == 300_000
    assert lines(d)["more"]["discount_rial"] == 0


# --- R7: points --------------------------------------------------------------------------------

R7_ROUNDING: list[tuple[str, str, int, int]] = [
    ("floor 1.5", "floor", 15_000, 1),
    ("half_up 1.5", "half_up", 15_000, 2),
    ("ceil 1.5", "ceil", 15_000, 2),
    ("floor 1.4999", "floor", 14_999, 1),
    ("half_up 1.4999", "half_up", 14_999, 1),
    ("ceil 1.4999", "ceil", 14_999, 2),
    ("floor exact", "floor", 20_000, 2),
    ("half_up exact", "half_up", 20_000, 2),
    ("ceil exact", "ceil", 20_000, 2),
    ("floor below one", "floor", 9_999, 0),
    ("ceil below one", "ceil", 1, 1),
    ("half_up 0.5", "half_up", 5_000, 1),
]


@pytest.mark.parametrize(("rounding", "amount", "points"), [c[1:] for c in R7_ROUNDING], ids=[c[0] for c in R7_ROUNDING])
def test_r7_points_rounding(rounding: str, amount: int, points: int) -> None:
    b = book([rule("r", {"type": "points", "per_rial": 10_000, "points": 1, "rounding": rounding})])
    d = b.evaluate(purchase(amount_rial=amount), member(), NOW)
    assert d.points_earned == points
    if points:
        check_line(lines(d)["r"], "applied")
        assert deltas(d)[f"{M}/points"] == points
    else:
        check_line(lines(d)["r"], "nothing_to_give")


MULTIPLIERS = {
    "type": "points",
    "per_rial": 10_000,
    "points": 1,
    "tier_multipliers_bp": {"silver": 15_000, "gold": 20_000, "basic": 5_000},
    "group_multipliers_bp": {3: 25_000, 4: 12_000},
}

R7_MULTIPLIERS: list[tuple[str, dict[str, Any], int]] = [
    ("no tier", {}, 100),
    ("silver", {"tier": "silver"}, 150),
    ("gold", {"tier": "gold"}, 200),
    ("tier without multiplier", {"tier": "bronze"}, 100),
    ("reduced tier", {"tier": "basic"}, 50),
    ("group", {"groups": [3]}, 250),
    ("gold and group 3: highest wins", {"tier": "gold", "groups": [3]}, 250),
    ("silver and group 4: highest wins", {"tier": "silver", "groups": [4]}, 150),
    ("two groups: highest wins", {"groups": [4, 3]}, 250),
    ("group without multiplier", {"groups": [9]}, 100),
]


@pytest.mark.parametrize(("fields", "points"), [c[1:] for c in R7_MULTIPLIERS], ids=[c[0] for c in R7_MULTIPLIERS])
def test_r7_points_tier_and_group_multipliers(fields: dict[str, Any], points: int) -> None:
    b = book([rule("r", MULTIPLIERS)])
    d = b.evaluate(purchase(), member(**fields), NOW)
    assert d.points_earned == points
    check_line(lines(d)["r"], "applied")
    assert f"{points} points" in lines(d)["r"]["message_en"]


def test_r7_points_group_multipliers_from_json() -> None:
    """A rule set stored as JSON (docs/rules.md, the JSON Schema) keys group multipliers by the group
    id written as a string; it must compile to the same rulebook as the Python dict with int keys."""
    import json

    text = json.dumps(ruleset([rule("r", MULTIPLIERS)]))
    for source in (text, json.loads(text)):
        b = kimia.Rulebook(source)
        assert b.evaluate(purchase(), member(groups=[3]), NOW).points_earned == 250


def test_r7_points_fixed_expiry_and_pending() -> None:
    b = book([rule("r", {"type": "points", "per_rial": 10_000, "points": 2, "fixed": 5, "expires_days": 365, "pending_days": 7})])
    d = b.evaluate(purchase(amount_rial=55_000), member(), NOW)
    assert d.points_earned == 16
    assert d.lots_created == [lot("1:0", f"{M}/points", 16, NOW + 365 * DAY, NOW + 7 * DAY)]
    m = kimia.apply(member(), d)
    assert m.points == 16
    # Pending points are not yet spendable (e.g. to buy a voucher).
    rejected("below_threshold", lambda: kimia.buy_voucher(1, {"template_id": 1, "points": 10}, m, op_id=2, now=NOW + DAY))
    kimia.buy_voucher(1, {"template_id": 1, "points": 10}, m, op_id=2, now=NOW + 7 * DAY)


def test_r7_points_differ_per_branch_and_tier() -> None:
    b = book(
        [
            rule("branch-5", {"type": "points", "per_rial": 10_000, "points": 3}, scope={"branches": [5]}),
            rule("gold-only", {"type": "points", "per_rial": 10_000, "points": 1}, conditions=[{"type": "tier", "names": ["gold"]}]),
        ]
    )
    assert b.evaluate(purchase(branch_id=5), member(tier="gold"), NOW).points_earned == 400
    assert b.evaluate(purchase(branch_id=6), member(tier="gold"), NOW).points_earned == 100
    assert b.evaluate(purchase(branch_id=5), member(tier="silver"), NOW).points_earned == 300


# --- R8: merchant credit -----------------------------------------------------------------------

MERCHANT_CREDIT = rule(
    "mc", {"type": "credit", "kind": "merchant", "percent_bp": 1000, "cap_rial": 500_000, "expires_days": 60}, scope={"merchants": [CAFE]}
)


def test_r8_merchant_credit_spendable_only_at_that_merchant() -> None:
    b = book([MERCHANT_CREDIT])
    account = f"{M}/merchant_credit@merchant:{CAFE}"
    d1 = b.evaluate(purchase(), member(), NOW)
    assert_decision_sane(d1)
    check_line(lines(d1)["mc"], "applied")
    assert "100,000 rials of credit" in lines(d1)["mc"]["message_en"]
    assert postings(d1) == [(f"merchant:{CAFE}/expense", account, 100_000)]
    assert d1.lots_created == [lot("1:0", account, 100_000, NOW + 60 * DAY)]
    m = kimia.apply(member(), d1)
    assert m.balance(account) == 100_000

    # Spent at the same merchant: drawn from the lot, accepted by the merchant.
    d2 = b.evaluate(purchase(op_id=2, amount_rial=300_000, redeem_credit_rial=60_000), m, NOW + DAY)
    assert_decision_sane(d2)
    assert d2.credit_used_rial == 60_000 and d2.payable_rial == 240_000
    assert d2.lots_consumed == [{"lot_id": "1:0", "account": account, "amount": 60_000, "expires_at": NOW + 60 * DAY}]
    assert (account, f"merchant:{CAFE}/credit_accepted", 60_000) in postings(d2)
    m2 = kimia.apply(m, d2)
    assert m2.balance(account) == 40_000 + 30_000

    # Anywhere else: refused with a code the member can act on.
    for merchant_id, groups in ((BAKERY, [10]), (GARAGE, [])):
        e = rejected(
            "credit_not_valid_at_merchant",
            lambda: b.evaluate(purchase(op_id=3, merchant_id=merchant_id, merchant_groups=groups, redeem_credit_rial=10_000), m2, NOW + DAY),
        )
        assert isinstance(e, kimia.Rejected) and e.path == "redeem_credit_rial"
        assert e.message_fa and "پذیرنده" in e.message_fa

    # Within its time only: after 60 days the lot has expired.
    rejected("lot_expired", lambda: b.evaluate(purchase(op_id=4, redeem_credit_rial=10_000), m2, NOW + 61 * DAY))
    d3 = b.evaluate(purchase(op_id=4, redeem_credit_rial=30_000), m2, NOW + 60 * DAY)
    assert [(u["lot_id"], u["amount"]) for u in d3.lots_consumed] == [("2:0", 30_000)]


# --- R9: club credit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merchant_id", "groups", "ok"),
    [(CAFE, [10], True), (BAKERY, [], True), (SHOE_SHOP, [10], True), (SHOE_SHOP, [], False), (GARAGE, [], False), (GARAGE, [12], False)],
)
def test_r9_club_credit_spendable_in_its_merchant_set(merchant_id: int, groups: list[int], ok: bool) -> None:
    b = book([rule("welcome", {"type": "credit", "kind": "club", "fixed_rial": 50_000, "spendable_at": 1, "expires_days": 30}, funding={"club_owner": 10_000})])
    account = f"{M}/club_credit@set:1"
    d1 = b.evaluate(purchase(), member(), NOW)
    assert postings(d1) == [("club:1/expense", account, 50_000)]
    m = kimia.apply(member(), d1)
    assert (1 in b.merchant_sets_for(merchant_id, groups)) is ok
    spend = purchase(op_id=2, merchant_id=merchant_id, merchant_groups=groups, amount_rial=200_000, redeem_credit_rial=50_000)
    if ok:
        d2 = b.evaluate(spend, m, NOW + DAY)
        assert d2.credit_used_rial == 50_000
        assert kimia.apply(m, d2).balance(account) == 50_000  # spent, and a new welcome credit earned
    else:
        rejected("credit_not_valid_at_merchant", lambda: b.evaluate(spend, m, NOW + DAY))


# --- R10: lottery entries ----------------------------------------------------------------------

R10_CASES: list[tuple[str, dict[str, Any], int, int]] = [
    ("per million", {"per_rial": 1_000_000, "entries": 1}, 2_500_000, 2),
    ("per million plus one", {"per_rial": 1_000_000, "entries": 1, "fixed": 1}, 2_500_000, 3),
    ("fixed only", {"fixed": 4}, 10, 4),
    ("below the rate", {"per_rial": 1_000_000, "entries": 1}, 999_999, 0),
]


@pytest.mark.parametrize(("effect", "amount", "entries"), [c[1:] for c in R10_CASES], ids=[c[0] for c in R10_CASES])
def test_r10_lottery_entries(effect: dict[str, Any], amount: int, entries: int) -> None:
    b = book([rule("nowruz", {"type": "lottery", "lottery_id": 9, **effect})])
    d = b.evaluate(purchase(amount_rial=amount), member(), NOW)
    assert_decision_sane(d)
    if entries:
        check_line(lines(d)["nowruz"], "applied")
        assert f"{entries} lottery entries" in lines(d)["nowruz"]["message_en"]
        assert d.lottery_entries == [{"lottery_id": 9, "entries": entries}]
        assert postings(d) == [("club:1/entries_issued@lottery:9", f"{M}/lottery_entries@lottery:9", entries)]
        assert kimia.apply(member(), d).balance(f"{M}/lottery_entries@lottery:9") == entries
        assert d.payable_rial == amount  # entries cost the member nothing and give no discount
    else:
        check_line(lines(d)["nowruz"], "nothing_to_give")
        assert d.lottery_entries == []


# --- R11: virtual credit -----------------------------------------------------------------------


def test_r11_virtual_credit_usable_anywhere_in_the_club() -> None:
    b = book([rule("v", {"type": "credit", "kind": "virtual", "fixed_rial": 80_000}, scope={"merchants": [CAFE]}, funding={"club_owner": 10_000})])
    d1 = b.evaluate(purchase(), member(), NOW)
    assert postings(d1) == [("club:1/expense", f"{M}/virtual_credit", 80_000)]
    assert d1.lots_created == [lot("1:0", f"{M}/virtual_credit", 80_000)]
    m = kimia.apply(member(), d1)
    d2 = b.evaluate(purchase(op_id=2, merchant_id=GARAGE, merchant_groups=[], amount_rial=50_000, redeem_credit_rial=80_000), m, NOW + 400 * DAY)
    assert d2.credit_used_rial == 50_000 and d2.payable_rial == 0 and d2.split == []
    assert kimia.apply(m, d2).balance(f"{M}/virtual_credit") == 30_000


def test_r11_virtual_credit_tied_to_a_merchant_set() -> None:
    b = book([rule("v", {"type": "credit", "kind": "virtual", "fixed_rial": 80_000, "spendable_at": 1})])
    m = kimia.apply(member(), b.evaluate(purchase(), member(), NOW))
    assert m.balance(f"{M}/virtual_credit@set:1") == 80_000
    rejected("credit_not_valid_at_merchant", lambda: b.evaluate(purchase(op_id=2, merchant_id=GARAGE, merchant_groups=[], redeem_credit_rial=1), m, NOW))


# --- R12: cashback -----------------------------------------------------------------------------


def test_r12_cashback_then_spent_on_a_later_purchase() -> None:
    b = book([rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 200, "cap_rial": 1_000_000, "expires_days": 90}, funding={"club_owner": 10_000})])
    account = f"{M}/cashback"
    m = kimia.Member(member())
    d1 = b.evaluate(purchase(amount_rial=2_000_000), m, NOW)
    assert d1.payable_rial == 2_000_000  # cashback is not a discount at the till
    assert postings(d1) == [("club:1/expense", account, 40_000)]
    m = kimia.apply(m, d1)
    d2 = b.evaluate(purchase(op_id=2, amount_rial=500_000), m, NOW + 10 * DAY)
    m = kimia.apply(m, d2)
    assert m.balance(account) == 50_000
    # A later purchase spends the cashback, soonest-expiring lot first.
    d3 = b.evaluate(purchase(op_id=3, amount_rial=300_000, redeem_credit_rial=45_000), m, NOW + 20 * DAY)
    assert_decision_sane(d3)
    assert d3.credit_used_rial == 45_000 and d3.payable_rial == 255_000
    assert [(u["lot_id"], u["amount"]) for u in d3.lots_consumed] == [("1:0", 40_000), ("2:0", 5_000)]
    m = kimia.apply(m, d3)
    assert m.balance(account) == 5_000 + 6_000
    # The member cannot spend more than they hold.
    e = rejected("insufficient_balance", lambda: b.evaluate(purchase(op_id=4, redeem_credit_rial=20_000), m, NOW + 21 * DAY))
    assert e.params["needed"] == "20000" and e.params["available"] == "11000"


# --- R13: discount for spending credit ---------------------------------------------------------

PAY_WITH_CREDIT = rule("pwc", {"type": "credit_spend_discount", "percent_bp": 500, "cap_rial": 8_000}, funding={"club_owner": 10_000})
WALLET = holding(lot("0:0", f"{M}/virtual_credit", 300_000))


@pytest.mark.parametrize(
    ("redeem", "amount", "extra"),
    [(100_000, 1_000_000, 5_000), (200_000, 1_000_000, 8_000), (300_000, 304_000, 4_000), (0, 1_000_000, 0)],
)
def test_r13_credit_spend_discount(redeem: int, amount: int, extra: int) -> None:
    b = book([PAY_WITH_CREDIT])
    d = b.evaluate(purchase(amount_rial=amount, redeem_credit_rial=redeem), WALLET, NOW)
    assert_decision_sane(d)
    assert d.credit_used_rial == min(redeem, amount)
    assert d.discount_rial == extra
    assert d.payable_rial == amount - redeem - extra
    if redeem:
        check_line(lines(d)["pwc"], "applied")
        assert lines(d)["pwc"]["discount_rial"] == extra
        assert ("club:1/expense", f"merchant:{CAFE}/discount_given", extra) in postings(d)
    else:
        check_line(lines(d)["pwc"], "nothing_to_give")


def test_r13_credit_spend_discount_when_credit_pays_everything() -> None:
    """Paying the whole amount with credit leaves nothing to discount: nothing is given, and the
    explanation must not claim a reward that was not given (it must not mention a voucher)."""
    b = book([PAY_WITH_CREDIT])
    d = b.evaluate(purchase(amount_rial=200_000, redeem_credit_rial=200_000), WALLET, NOW)
    assert_decision_sane(d)
    assert d.discount_rial == 0 and d.payable_rial == 0
    assert d.vouchers_issued == []
    for line in d.explanation:
        assert "voucher" not in line["message_en"], line["message_en"]
        assert "ووچر" not in line["message_fa"], line["message_fa"]


# --- R14: funding shares -----------------------------------------------------------------------

R14_CASES: list[tuple[str, dict[str, int], dict[str, Any], dict[str, int]]] = [
    ("merchant alone by default", {}, {}, {f"merchant:{CAFE}/expense": 100_001}),
    ("70/30", {"merchant": 7000, "club_owner": 3000}, {}, {f"merchant:{CAFE}/expense": 70_001, "club:1/expense": 30_000}),
    ("thirds", {"merchant": 3333, "club_owner": 3333, "platform": 3334}, {}, {f"merchant:{CAFE}/expense": 33_330, "club:1/expense": 33_330, "platform:0/expense": 33_341}),
    ("marketer named", {"marketer": 5000, "merchant": 5000}, {"marketer_id": 3}, {f"merchant:{CAFE}/expense": 50_001, "marketer:3/expense": 50_000}),
    ("no marketer: club owner stands in", {"marketer": 5000, "merchant": 5000}, {}, {f"merchant:{CAFE}/expense": 50_001, "club:1/expense": 50_000}),
    ("platform alone", {"platform": 10_000}, {}, {"platform:0/expense": 100_001}),
]


@pytest.mark.parametrize(("funding", "fields", "expected"), [c[1:] for c in R14_CASES], ids=[c[0] for c in R14_CASES])
def test_r14_funding_shares(funding: dict[str, int], fields: dict[str, Any], expected: dict[str, int]) -> None:
    b = book([rule("r", {"type": "discount", "fixed_rial": 100_001}, funding=funding)])
    d = b.evaluate(purchase(**fields), member(), NOW)
    assert_decision_sane(d)
    paid: dict[str, int] = {}
    for source, target, amount in postings(d):
        assert target == f"merchant:{CAFE}/discount_given"
        paid[source] = paid.get(source, 0) + amount
    assert paid == expected
    assert sum(paid.values()) == d.discount_rial == 100_001


@pytest.mark.parametrize("amount", [1, 2, 3, 7, 10, 99, 1_000, 33_333, 100_003, 999_999_999])
def test_r14_funding_split_adds_up_exactly_for_every_effect(amount: int) -> None:
    funding = {"merchant": 3333, "club_owner": 3333, "platform": 3334}
    b = book(
        [
            rule("d", {"type": "discount", "fixed_rial": amount}, funding=funding),
            rule("c", {"type": "credit", "kind": "merchant", "fixed_rial": amount}, funding=funding),
            rule("p", {"type": "points", "fixed": amount}, funding=funding),
        ]
    )
    d = b.evaluate(purchase(amount_rial=amount), member(), NOW)
    assert_decision_sane(d)
    totals: dict[str, int] = {}
    for p in d.postings:
        totals[p["memo"]] = totals.get(p["memo"], 0) + p["amount"]
    assert totals.get("d", 0) == amount and totals["c"] == amount and totals["p"] == amount
    sources = {p["from"] for p in d.postings if p["memo"] == "p"}
    assert sources <= {f"merchant:{CAFE}/points_issued", "club:1/points_issued", "platform:0/points_issued"}


def test_r14_credit_allocation_per_club_merchant_and_goods() -> None:
    """Credit allocated per merchant (merchant credit), per club merchant set (club credit) and per
    goods group (credit on the matching basket lines only)."""
    basket = [
        {"goods_id": "beans", "group": "coffee", "amount_rial": 600_000},
        {"goods_id": "cake", "group": "bakery", "amount_rial": 400_000},
    ]
    b = book(
        [
            rule("per-merchant", {"type": "credit", "kind": "merchant", "fixed_rial": 10_000}, scope={"merchants": [CAFE]}),
            rule("per-club", {"type": "credit", "kind": "club", "fixed_rial": 20_000, "spendable_at": 1}, funding={"club_owner": 10_000}),
            rule(
                "per-goods",
                {"type": "credit", "kind": "cashback", "percent_bp": 1000},
                conditions=[{"type": "goods_group", "ids": ["coffee"]}],
                funding={"merchant": 5000, "platform": 5000},
            ),
        ]
    )
    d = b.evaluate(purchase(basket=basket), member(), NOW)
    assert_decision_sane(d)
    got = deltas(d)
    assert got[f"{M}/merchant_credit@merchant:{CAFE}"] == 10_000
    assert got[f"{M}/club_credit@set:1"] == 20_000
    assert got[f"{M}/cashback"] == 60_000
    assert got["platform:0/expense"] == -30_000
    assert got["club:1/expense"] == -20_000
    assert got[f"merchant:{CAFE}/expense"] == -40_000


# --- M6 referral, M7 any means of payment ------------------------------------------------------


def test_m6_referral_points_to_the_introducer() -> None:
    b = book([rule("ref", {"type": "referral", "per_rial": 100_000, "points": 1}, funding={"club_owner": 10_000})])
    d = b.evaluate(purchase(amount_rial=2_550_000), member(referrer_id=7), NOW)
    assert postings(d) == [("club:1/points_issued", "member:7/points", 25)]
    assert d.points_earned == 0  # the buyer earns nothing from this rule
    assert d.lots_created == [lot("1:0", "member:7/points", 25)]
    check_line(lines(d)["ref"], "applied")
    # The introducer's points are not the buyer's: applying to the buyer's snapshot leaves it alone.
    assert kimia.apply(member(referrer_id=7), d).points == 0
    # No introducer: nothing to give.
    check_line(lines(b.evaluate(purchase(), member(), NOW))["ref"], "nothing_to_give")


@pytest.mark.parametrize("method", ["card", "cash", "mixed", "credit"])
def test_m7_club_services_whatever_the_member_pays_with(method: str) -> None:
    b = book([rule("p", {"type": "points", "per_rial": 10_000, "points": 1}), rule("d", {"type": "discount", "percent_bp": 500})])
    d = b.evaluate(purchase(payment_method=method), member(), NOW)
    assert d.points_earned == 100 and d.discount_rial == 50_000
