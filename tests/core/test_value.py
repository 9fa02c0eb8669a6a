"""Value outside the rules: settlement split (S1–S7, C6), conversions (V1), credit lines (V2),
welfare (V3), gift cards and expiry (V4), vouchers (V5), shared wallets (M5), refunds, reversals,
the clawback policy, holds, and tier period close (V6–V11)."""

from __future__ import annotations

import random
from typing import Any

import pytest

import kimia

from .helpers import (
    BAKERY,
    CAFE,
    DAY,
    GARAGE,
    apply_all,
    assert_decision_sane,
    at,
    book,
    deltas,
    holding,
    local_day,
    lot,
    member,
    postings,
    purchase,
    rejected,
    rule,
)

NOW = at(2026, 12, 17, 11)
M = "member:42"


def _largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Hamilton's method, ties to the earlier weight: the documented rounding rule, written again."""
    s = sum(weights)
    if s == 0:
        return [0] * (len(weights) - 1) + [total]
    floors = [total * w // s for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % s), i))
    left = total - sum(floors)
    for i in order:
        if left == 0:
            break
        if weights[i] > 0:
            floors[i] += 1
            left -= 1
    return floors


# --- S1–S7, C6: settlement split ---------------------------------------------------------------

SETTLEMENT: dict[str, Any] = {
    "club_owner_bp": 200,
    "marketer_bp": 100,
    "merchant_marketer_bp": 50,
    "fee_tariffs": [
        {"business_type": None, "percent_bp": 30, "cap_rial": 200_000},
        {"business_type": "restaurant", "percent_bp": 50, "fixed_rial": 1_000, "cap_rial": 300_000},
        {"business_type": "fuel", "percent_bp": 0, "fixed_rial": 2_500},
    ],
}
SPLIT_BOOK = book([], settlement=SETTLEMENT)

SPLIT_CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("plain", {}),
    ("marketer", {"marketer_id": 3}),
    ("enrolled elsewhere", {"enrolling_merchant_id": 55}),
    ("enrolled here", {"enrolling_merchant_id": CAFE}),
    ("restaurant, marketer, enrolled", {"business_type": "restaurant", "marketer_id": 3, "enrolling_merchant_id": 55}),
    ("unknown business type", {"business_type": "bookshop"}),
    ("fuel: fixed fee", {"business_type": "fuel", "marketer_id": 9}),
]


def _expected_split(payable: int, fields: dict[str, Any]) -> dict[str, tuple[int, int]]:
    tariff = {t["business_type"]: t for t in SETTLEMENT["fee_tariffs"]}.get(fields.get("business_type"), SETTLEMENT["fee_tariffs"][0])
    fee = payable * tariff["percent_bp"] // 10_000 + tariff.get("fixed_rial", 0)
    fee = max(0, min(fee, tariff.get("cap_rial") or fee, payable))
    marketer = fields.get("marketer_id")
    enrolling = fields.get("enrolling_merchant_id")
    enrolling = enrolling if enrolling not in (None, CAFE) else None
    club_bp = SETTLEMENT["club_owner_bp"] + (0 if marketer else SETTLEMENT["marketer_bp"])
    marketer_bp = SETTLEMENT["marketer_bp"] if marketer else 0
    mm_bp = SETTLEMENT["merchant_marketer_bp"] if enrolling else 0
    parts = _largest_remainder(payable - fee, [club_bp, marketer_bp, mm_bp, 10_000 - club_bp - marketer_bp - mm_bp])
    legs = {
        "platform_fee": (0, fee),
        "club_owner": (1, parts[0]),
        "marketer": (marketer or 0, parts[1]),
        "merchant_marketer": (enrolling or 0, parts[2]),
        "merchant": (CAFE, parts[3]),
    }
    return {role: leg for role, leg in legs.items() if leg[1] > 0}


AMOUNTS = [*range(1, 400), 999, 1_000, 10_001, 66_667, 333_333, 1_000_000, 39_999_999, 40_000_000, 60_000_001, 10**12 + 7]
AMOUNTS += random.Random(7).sample(range(1, 10**10), 200)


@pytest.mark.parametrize(("fields"), [c[1] for c in SPLIT_CONFIGS], ids=[c[0] for c in SPLIT_CONFIGS])
def test_s1_s7_split_adds_up_exactly(fields: dict[str, Any]) -> None:
    for amount in AMOUNTS:
        d = SPLIT_BOOK.evaluate(purchase(amount_rial=amount, **fields), member(), NOW, explain=False)
        assert d.is_balanced()
        legs = d.split
        assert sum(leg["amount_rial"] for leg in legs) == d.payable_rial == amount
        assert all(leg["amount_rial"] > 0 for leg in legs)
        got = {leg["role"]: (leg["beneficiary_id"], leg["amount_rial"]) for leg in legs}
        assert len(got) == len(legs)
        assert got == _expected_split(amount, fields), amount


def test_s2_s5_shares_by_role() -> None:
    d = SPLIT_BOOK.evaluate(purchase(amount_rial=10_000_000, marketer_id=3, enrolling_merchant_id=55), member(), NOW)
    assert d.split == [
        {"role": "platform_fee", "beneficiary_id": 0, "amount_rial": 30_000},
        {"role": "club_owner", "beneficiary_id": 1, "amount_rial": 199_400},
        {"role": "marketer", "beneficiary_id": 3, "amount_rial": 99_700},
        {"role": "merchant_marketer", "beneficiary_id": 55, "amount_rial": 49_850},
        {"role": "merchant", "beneficiary_id": CAFE, "amount_rial": 9_621_050},
    ]
    # No marketer: the marketer's share goes to the club owner; no enrolling merchant: none.
    d = SPLIT_BOOK.evaluate(purchase(amount_rial=10_000_000), member(), NOW)
    assert {leg["role"]: leg["amount_rial"] for leg in d.split} == {"platform_fee": 30_000, "club_owner": 299_100, "merchant": 9_670_900}


def test_c6_fee_per_business_type_and_cap() -> None:
    def fee(amount: int, business_type: str | None) -> int:
        d = SPLIT_BOOK.evaluate(purchase(amount_rial=amount, business_type=business_type), member(), NOW)
        return sum(leg["amount_rial"] for leg in d.split if leg["role"] == "platform_fee")

    assert fee(1_000_000, None) == 3_000
    assert fee(1_000_000, "restaurant") == 6_000
    assert fee(1_000_000_000, None) == 200_000  # capped
    assert fee(1_000_000_000, "restaurant") == 300_000  # capped
    assert fee(1_000_000, "fuel") == 2_500
    assert fee(2_000, "fuel") == 2_000  # never more than the payment: the whole payment is the fee
    assert fee(1_000_000, "bookshop") == 3_000  # the default tariff
    assert book([]).evaluate(purchase(), member(), NOW).split == [{"role": "merchant", "beneficiary_id": CAFE, "amount_rial": 1_000_000}]


def test_s1_split_follows_payable_after_discount_and_credit() -> None:
    b = book([rule("d", {"type": "discount", "percent_bp": 1000})], settlement=SETTLEMENT)
    snapshot = holding(lot("0:0", f"{M}/virtual_credit", 123_457))
    d = b.evaluate(purchase(amount_rial=1_000_003, redeem_credit_rial=123_457, marketer_id=3), snapshot, NOW)
    assert d.payable_rial == 1_000_003 - 100_000 - 123_457
    assert sum(leg["amount_rial"] for leg in d.split) == d.payable_rial


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (10, [7000, 2000, 1000], [7, 2, 1]),
        (1, [0, 5], [0, 1]),
        (7, [0, 0], [0, 7]),
        (2, [1, 1, 1], [1, 1, 0]),
        (0, [3, 4], [0, 0]),
        (5, [], []),
    ],
)
def test_s7_split_amount(total: int, weights: list[int], parts: list[int]) -> None:
    assert kimia.split_amount(total, weights) == parts


def test_s7_split_amount_adds_up_for_many_inputs() -> None:
    rng = random.Random(11)
    for _ in range(2_000):
        weights = [rng.choice([0, 1, 3, 50, 3333, 10_000, rng.randrange(1, 10**6)]) for _ in range(rng.randrange(1, 7))]
        total = rng.choice([rng.randrange(0, 100), rng.randrange(0, 10**15)])
        parts = kimia.split_amount(total, weights)
        assert sum(parts) == total and all(p >= 0 for p in parts)
        assert parts == _largest_remainder(total, weights)


def test_s6_holder_and_merchant_value_stored_in_postings() -> None:
    """The decision records the holder's and the merchant's side of every value movement."""
    b = book([rule("p", {"type": "points", "per_rial": 10_000, "points": 1}), rule("d", {"type": "discount", "fixed_rial": 50_000})])
    snapshot = holding(lot("0:0", f"{M}/cashback", 70_000))
    d = b.evaluate(purchase(redeem_credit_rial=70_000), snapshot, NOW)
    assert deltas(d) == {
        f"{M}/points": 100,
        f"merchant:{CAFE}/points_issued": -100,
        f"{M}/cashback": -70_000,
        f"merchant:{CAFE}/credit_accepted": 70_000,
        f"merchant:{CAFE}/expense": -50_000,
        f"merchant:{CAFE}/discount_given": 50_000,
    }


# --- V1: points → credit -----------------------------------------------------------------------

CONVERSION = {
    "club_id": 1,
    "default": {"points": 100, "rial": 1_000},
    "by_tier": {"gold": {"points": 100, "rial": 2_000}},
    "by_group": {7: {"points": 100, "rial": 3_000}, 8: {"points": 100, "rial": 2_500}},
    "min_points": 100,
    "expires_days": 60,
}
POINTS_1000 = [lot("0:0", f"{M}/points", 1_000)]

V1_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("default", {}, 5_000),
    ("tier", {"tier": "gold"}, 10_000),
    ("tier without a ratio", {"tier": "silver"}, 5_000),
    ("group beats tier", {"tier": "gold", "groups": [7]}, 15_000),
    ("best of groups", {"groups": [8, 7]}, 15_000),
    ("one group", {"groups": [8]}, 12_500),
    ("group without a ratio", {"groups": [9], "tier": "gold"}, 10_000),
]


@pytest.mark.parametrize(("fields", "rial"), [c[1:] for c in V1_CASES], ids=[c[0] for c in V1_CASES])
def test_v1_conversion_ratio_per_tier_and_group(fields: dict[str, Any], rial: int) -> None:
    snapshot = holding(*POINTS_1000, **fields)
    d = kimia.convert_points(CONVERSION, snapshot, op_id=5, now=NOW, points=500)
    assert d.kind == "conversion" and d.is_balanced()
    assert postings(d) == [(f"{M}/points", "club:1/points_retired", 500), ("club:1/expense", f"{M}/virtual_credit", rial)]
    assert d.lots_created == [lot("5:0", f"{M}/virtual_credit", rial, NOW + 60 * DAY)]
    m = kimia.apply(snapshot, d)
    assert m.points == 500 and m.balance(f"{M}/virtual_credit") == rial


def test_v1_conversion_rounds_down_and_draws_soonest_expiring_points() -> None:
    snapshot = holding(lot("1:0", f"{M}/points", 8, NOW + 30 * DAY), lot("2:0", f"{M}/points", 50), lot("3:0", f"{M}/points", 5, NOW + 5 * DAY), lot("4:0", f"{M}/points", 99, NOW - 1))
    d = kimia.convert_points({"club_id": 1, "default": {"points": 3, "rial": 10}}, snapshot, op_id=9, now=NOW, points=20)
    assert deltas(d)[f"{M}/virtual_credit"] == 66
    assert [(u["lot_id"], u["amount"]) for u in d.lots_consumed] == [("3:0", 5), ("1:0", 8), ("2:0", 7)]
    m = kimia.apply(snapshot, d)
    assert m.points == 162 - 20
    rejected("insufficient_balance", lambda: kimia.convert_points(CONVERSION, m, op_id=10, now=NOW, points=100))


# --- V2: credit line ---------------------------------------------------------------------------

LINE = f"{M}/credit_line"


def test_v2_credit_line_spend_and_limit() -> None:
    b = book([])
    m = kimia.Member(member(accounts=[{"account": LINE, "balance": 0, "credit_limit": 1_000_000}]))
    d1 = b.evaluate(purchase(amount_rial=500_000, redeem_credit_rial=400_000), m, NOW)
    assert_decision_sane(d1)
    assert d1.credit_used_rial == 400_000 and d1.payable_rial == 100_000
    assert postings(d1) == [(LINE, f"merchant:{CAFE}/credit_accepted", 400_000)]
    m = kimia.apply(m, d1)
    assert m.balance(LINE) == -400_000
    # 600,000 of the limit is left.
    e = rejected("insufficient_balance", lambda: b.evaluate(purchase(op_id=2, redeem_credit_rial=600_001), m, NOW))
    assert e.params["available"] == "600000"
    d2 = b.evaluate(purchase(op_id=2, amount_rial=700_000, redeem_credit_rial=600_000), m, NOW)
    m = kimia.apply(m, d2)
    assert m.balance(LINE) == -1_000_000
    rejected("insufficient_balance", lambda: b.evaluate(purchase(op_id=3, redeem_credit_rial=1), m, NOW))


def test_v2_credit_line_after_lots() -> None:
    """Credit lots are spent before the credit line."""
    snapshot = holding(lot("0:0", f"{M}/cashback", 10_000), accounts=[{"account": LINE, "balance": 0, "credit_limit": 100_000}])
    d = book([]).evaluate(purchase(redeem_credit_rial=50_000), snapshot, NOW)
    assert deltas(d)[f"{M}/cashback"] == -10_000 and deltas(d)[LINE] == -40_000


def test_v2_credit_line_repaid_with_cash() -> None:
    """A member repays a credit line in money: kimia.charge with a cash source, then apply."""
    m = kimia.Member(member(accounts=[{"account": LINE, "balance": -400_000, "credit_limit": 1_000_000}]))
    d = kimia.charge(m, op_id=7, now=NOW, account=LINE, amount=250_000, source={"type": "cash"})
    assert d.kind == "charge" and d.is_balanced()
    assert deltas(d)[LINE] == 250_000
    assert d.lots_created == []  # a credit line has no lots
    m = kimia.apply(m, d)
    assert m.balance(LINE) == -150_000


def test_v2_credit_limit_exceeded_on_apply() -> None:
    d = book([]).evaluate(purchase(redeem_credit_rial=300_000), member(accounts=[{"account": LINE, "balance": 0, "credit_limit": 500_000}]), NOW)
    e = rejected("credit_limit_exceeded", lambda: kimia.apply(member(accounts=[{"account": LINE, "balance": -300_000, "credit_limit": 500_000}]), d))
    assert isinstance(e, kimia.Rejected)


# --- V3: welfare credit from an organisation ---------------------------------------------------


def test_v3_welfare_charge_from_an_org() -> None:
    account = f"{M}/welfare_credit@set:1"
    m = kimia.Member(member())
    d = kimia.charge(m, op_id=3, now=NOW, account=account, amount=2_000_000, source={"type": "org", "id": 9}, expires_days=180)
    assert postings(d) == [("org:9/expense", account, 2_000_000)]
    assert d.lots_created == [lot("3:0", account, 2_000_000, NOW + 180 * DAY)]
    m = kimia.apply(m, d)
    b = book([])
    spent = b.evaluate(purchase(op_id=4, merchant_id=BAKERY, merchant_groups=[], amount_rial=300_000, redeem_credit_rial=300_000), m, NOW + DAY)
    m = kimia.apply(m, spent)
    assert m.balance(account) == 1_700_000
    # Spendable only inside the club's merchant set.
    rejected("credit_not_valid_at_merchant", lambda: b.evaluate(purchase(op_id=5, merchant_id=GARAGE, merchant_groups=[], redeem_credit_rial=1), m, NOW))


# --- V4: gift cards expire ---------------------------------------------------------------------

GIFT = f"{M}/gift_credit"


@pytest.mark.parametrize("source", [{"type": "club", "id": 1}, {"type": "merchant", "id": CAFE}, {"type": "cash"}], ids=["club", "merchant", "cash"])
def test_v4_gift_card_expires_then_expire_retires_it(source: dict[str, Any]) -> None:
    m = kimia.Member(member())
    charge = kimia.charge(m, op_id=1, now=NOW, account=GIFT, amount=500_000, source=source, expires_days=30)
    assert charge.is_balanced()
    m = kimia.apply(m, charge)
    assert m.balance(GIFT) == 500_000
    b = book([])
    m = kimia.apply(m, b.evaluate(purchase(op_id=2, amount_rial=200_000, redeem_credit_rial=200_000), m, NOW + 29 * DAY))
    expiry = NOW + 30 * DAY
    rejected("lot_expired", lambda: b.evaluate(purchase(op_id=3, redeem_credit_rial=1), m, expiry))
    assert kimia.expire(1, m, op_id=4, now=expiry - 1).postings == []
    sweep = kimia.expire(1, m, op_id=4, now=expiry)
    assert sweep.kind == "expiry" and sweep.is_balanced()
    assert postings(sweep) == [(GIFT, "club:1/credit_retired", 300_000)]
    m = kimia.apply(m, sweep)
    assert m.balance(GIFT) == 0 and m.to_dict()["lots"] == []
    assert kimia.expire(1, m, op_id=5, now=expiry + DAY).postings == []


def test_v4_expire_retires_every_kind_and_only_expired_lots() -> None:
    snapshot = holding(
        lot("1:0", f"{M}/points", 40, NOW - 1),
        lot("1:1", f"{M}/points", 60, NOW + 1),
        lot("2:0", f"{M}/cashback", 500, NOW),
        lot("3:0", f"{M}/merchant_credit@merchant:{CAFE}", 700),
        lot("4:0", "group:5/club_credit@set:1", 900, NOW - DAY),
        lot("5:0", "group:6/club_credit@set:1", 900, NOW - DAY),
        shared_group_id=5,
    )
    d = kimia.expire(1, snapshot, op_id=9, now=NOW)
    assert sorted(postings(d)) == sorted(
        [(f"{M}/points", "club:1/points_retired", 40), (f"{M}/cashback", "club:1/credit_retired", 500), ("group:5/club_credit@set:1", "club:1/credit_retired", 900)]
    )
    m = kimia.apply(snapshot, d)
    assert m.points == 60 and m.balance(f"{M}/cashback") == 0
    assert {item["id"] for item in m.to_dict()["lots"]} == {"1:1", "3:0", "5:0"}


# --- V5: vouchers ------------------------------------------------------------------------------


def test_v5_buy_voucher_with_points_and_threshold() -> None:
    m = kimia.Member(holding(lot("0:0", f"{M}/points", 1_200)))
    price = {"template_id": 3, "points": 500, "min_balance": 1_000}
    d = kimia.buy_voucher(1, price, m, op_id=2, now=NOW)
    assert d.kind == "voucher_purchase" and d.is_balanced()
    assert d.vouchers_issued == [{"template_id": 3, "rule_id": ""}]
    assert postings(d) == [(f"{M}/points", "club:1/points_retired", 500)]
    m = kimia.apply(m, d)
    assert m.points == 700
    e = rejected("below_threshold", lambda: kimia.buy_voucher(1, price, m, op_id=3, now=NOW))
    assert e.params == {"threshold": "1000"}
    kimia.buy_voucher(1, {"template_id": 3, "points": 500}, m, op_id=3, now=NOW)


def test_v5_buy_voucher_with_unscoped_credit_only() -> None:
    snapshot = holding(lot("0:0", f"{M}/virtual_credit", 30_000), lot("0:1", f"{M}/cashback", 30_000, NOW + DAY), lot("0:2", f"{M}/merchant_credit@merchant:{CAFE}", 900_000))
    price = {"template_id": 4, "credit_rial": 50_000}
    d = kimia.buy_voucher(1, price, snapshot, op_id=2, now=NOW)
    assert [(u["lot_id"], u["amount"]) for u in d.lots_consumed] == [("0:1", 30_000), ("0:0", 20_000)]
    assert sorted(postings(d)) == [(f"{M}/cashback", "club:1/credit_retired", 30_000), (f"{M}/virtual_credit", "club:1/credit_retired", 20_000)]
    rejected("below_threshold", lambda: kimia.buy_voucher(1, {"template_id": 4, "credit_rial": 60_001}, snapshot, op_id=3, now=NOW))


VOUCHER = {"code": "V-3", "discount_rial": 100_000, "valid_from": NOW - DAY, "valid_to": NOW + 30 * DAY, "merchants": [CAFE, BAKERY]}


def test_v5_use_voucher_once() -> None:
    b = book([rule("d", {"type": "discount", "percent_bp": 500})])
    m = kimia.Member(member(vouchers=[VOUCHER]))
    d = b.evaluate(purchase(voucher_code="V-3"), m, NOW)
    assert_decision_sane(d)
    assert d.voucher_used == "V-3"
    assert d.discount_rial == 50_000 + 100_000
    assert ("club:1/expense", f"merchant:{CAFE}/discount_given", 100_000) in postings(d, "voucher")
    m = kimia.apply(m, d)
    assert m.to_dict()["vouchers"][0]["used"] is True
    rejected("voucher_already_used", lambda: b.evaluate(purchase(op_id=2, voucher_code="V-3"), m, NOW))
    # The same decision cannot be written twice either.
    rejected("voucher_already_used", lambda: kimia.apply(m, d))


@pytest.mark.parametrize(
    ("voucher", "amount", "discount"),
    [
        ({"code": "P", "discount_bp": 2000, "cap_rial": 50_000}, 100_000, 20_000),
        ({"code": "P", "discount_bp": 2000, "cap_rial": 50_000}, 1_000_000, 50_000),
        ({"code": "P", "discount_rial": 80_000}, 30_000, 30_000),
        ({"code": "P", "discount_rial": 10_000, "funder": "merchant"}, 30_000, 10_000),
    ],
)
def test_v5_voucher_discount(voucher: dict[str, Any], amount: int, discount: int) -> None:
    d = book([]).evaluate(purchase(amount_rial=amount, voucher_code="P"), member(vouchers=[voucher]), NOW)
    assert d.discount_rial == discount and d.payable_rial == amount - discount
    funder = f"merchant:{CAFE}/expense" if voucher.get("funder") == "merchant" else "club:1/expense"
    assert postings(d) == [(funder, f"merchant:{CAFE}/discount_given", discount)]


@pytest.mark.parametrize(
    ("now", "merchant_id", "code"),
    [(NOW - 2 * DAY, CAFE, "voucher_not_active"), (NOW + 31 * DAY, CAFE, "voucher_not_active"), (NOW, GARAGE, "voucher_not_valid_at_merchant")],
)
def test_v5_voucher_checked_at_the_set_time_and_place(now: int, merchant_id: int, code: str) -> None:
    rejected(code, lambda: book([]).evaluate(purchase(merchant_id=merchant_id, voucher_code="V-3"), member(vouchers=[VOUCHER]), now))


def test_v5_voucher_given_back_on_reversal_not_on_partial_refund() -> None:
    b = book([])
    m0 = kimia.Member(member(vouchers=[VOUCHER]))
    d = b.evaluate(purchase(voucher_code="V-3"), m0, NOW)
    m1 = kimia.apply(m0, d)
    part = kimia.reverse(d, m1, op_id=2, now=NOW, refund_rial=500_000)
    assert part.voucher_restored is None
    m2 = kimia.apply(m1, part)
    assert m2.to_dict()["vouchers"][0]["used"] is True
    rest = kimia.reverse(d, m2, op_id=3, now=NOW, refunded_before_rial=500_000)
    assert rest.voucher_restored == "V-3"
    m3 = kimia.apply(m2, rest)
    assert m3.to_dict()["vouchers"][0]["used"] is False
    assert b.evaluate(purchase(op_id=4, voucher_code="V-3"), m3, NOW).discount_rial == 100_000


# --- M5: shared group wallet -------------------------------------------------------------------

GROUP_CREDIT = "group:7/club_credit@set:1"


def _family_member(member_id: int, remaining: int, group: int | None = 7) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "shared_group_id": group,
        "lots": [lot("9:0", GROUP_CREDIT, remaining, NOW + 30 * DAY)],
        "accounts": [{"account": GROUP_CREDIT, "balance": remaining}],
    }


def test_m5_shared_group_wallet() -> None:
    b = book([rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 100})])
    d = b.evaluate(purchase(redeem_credit_rial=200_000), _family_member(42, 300_000), NOW)
    assert d.lots_consumed == [{"lot_id": "9:0", "account": GROUP_CREDIT, "amount": 200_000, "expires_at": NOW + 30 * DAY}]
    m42 = kimia.apply(_family_member(42, 300_000), d)
    assert m42.balance(GROUP_CREDIT) == 100_000
    assert m42.balance(f"{M}/cashback") == 10_000  # earnings stay the member's own
    # Another card/member of the family spends the rest of the shared wallet.
    d43 = b.evaluate(purchase(op_id=2, redeem_credit_rial=100_000), _family_member(43, 100_000), NOW)
    assert d43.member_id == 43 and d43.credit_used_rial == 100_000
    # Someone outside the family cannot.
    rejected("insufficient_balance", lambda: b.evaluate(purchase(op_id=3, redeem_credit_rial=1), _family_member(44, 100_000, group=None), NOW))
    rejected("insufficient_balance", lambda: b.evaluate(purchase(op_id=3, redeem_credit_rial=1), _family_member(45, 100_000, group=8), NOW))
    # A reversal puts the shared credit back in the shared wallet, with its expiry.
    r = kimia.reverse(d, m42, op_id=4, now=NOW + DAY)
    m42 = kimia.apply(m42, r)
    assert m42.balance(GROUP_CREDIT) == 300_000 and m42.balance(f"{M}/cashback") == 0
    assert all(item["expires_at"] == NOW + 30 * DAY for item in m42.to_dict()["lots"] if item["account"] == GROUP_CREDIT)


# --- refunds and reversals ---------------------------------------------------------------------

REFUND_BOOK = book(
    [
        rule("d", {"type": "discount", "percent_bp": 1000}, funding={"merchant": 7000, "club_owner": 3000}),
        rule("p", {"type": "points", "per_rial": 10_000, "points": 1, "expires_days": 365}),
        rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 500, "expires_days": 90}, funding={"club_owner": 10_000}),
        rule("lot", {"type": "lottery", "lottery_id": 2, "per_rial": 100_000, "entries": 1}),
    ],
    settlement=SETTLEMENT,
)


@pytest.mark.parametrize("first_part", [1, 300_001, 500_000, 1_000_002])
def test_refund_partial_then_the_rest_restores_exactly(first_part: int) -> None:
    start = holding(lot("0:0", f"{M}/cashback", 200_000, NOW + 10 * DAY))
    total = 1_000_003
    d = REFUND_BOOK.evaluate(purchase(amount_rial=total, redeem_credit_rial=100_000, marketer_id=3), start, NOW)
    assert_decision_sane(d)
    m1 = kimia.apply(start, d)
    r1 = kimia.reverse(d, m1, op_id=2, now=NOW + DAY, refund_rial=first_part)
    assert r1.kind == "refund" and r1.is_balanced() and r1.amount_rial == -first_part
    m2 = kimia.apply(m1, r1)
    r2 = kimia.reverse(d, m2, op_id=3, now=NOW + 2 * DAY, refunded_before_rial=first_part)
    assert r2.kind == "reversal" and r2.is_balanced() and r2.amount_rial == -(total - first_part)
    m3 = kimia.apply(m2, r2)
    for field in ("discount_rial", "credit_used_rial", "points_earned", "payable_rial"):
        assert getattr(r1, field) + getattr(r2, field) == -getattr(d, field), field
    for role in {leg["role"] for leg in d.split}:
        refunded = sum(leg["amount_rial"] for r in (r1, r2) for leg in r.split if leg["role"] == role)
        assert refunded == -sum(leg["amount_rial"] for leg in d.split if leg["role"] == role)
    # Every account, member side and business side, is back where it started.
    net: dict[str, int] = {}
    for decision in (d, r1, r2):
        for account, delta in decision.deltas:
            net[account] = net.get(account, 0) + delta
    assert {a: v for a, v in net.items() if v} == {}
    after = m3.to_dict()
    assert after["purchase_count"] == 0
    assert all(h["count"] == 0 and h["spend_rial"] == 0 for h in after["history"])
    assert m3.balance(f"{M}/cashback") == 200_000 and m3.points == 0
    assert m3.balance(f"{M}/lottery_entries@lottery:2") == 0
    # The spent credit came back with the expiry it had.
    assert sum(item["remaining"] for item in after["lots"]) == 200_000
    assert all(item["expires_at"] == NOW + 10 * DAY for item in after["lots"])
    rejected("nothing_to_reverse", lambda: kimia.reverse(d, m3, op_id=4, now=NOW, refunded_before_rial=total))


def test_refund_in_many_parts_adds_up() -> None:
    d = REFUND_BOOK.evaluate(purchase(amount_rial=999_999, marketer_id=3, enrolling_merchant_id=55), member(), NOW)
    m = kimia.apply(member(), d)
    refunded = 0
    parts = [1, 2, 3, 333_333, 7, 111_111, 555_542]
    assert sum(parts) == 999_999
    totals = {"discount_rial": 0, "points_earned": 0, "payable_rial": 0}
    for n, part in enumerate(parts):
        r = kimia.reverse(d, m, op_id=10 + n, now=NOW + n, refund_rial=part, refunded_before_rial=refunded)
        assert r.is_balanced()
        m = kimia.apply(m, r)
        refunded += part
        for field in totals:
            totals[field] += getattr(r, field)
    assert totals == {"discount_rial": -d.discount_rial, "points_earned": -d.points_earned, "payable_rial": -d.payable_rial}
    assert m.points == 0 and m.balance(f"{M}/cashback") == 0
    rejected("nothing_to_reverse", lambda: kimia.reverse(d, m, op_id=99, now=NOW, refund_rial=1, refunded_before_rial=refunded))
    rejected("refund_exceeds_purchase", lambda: kimia.reverse(d, m, op_id=99, now=NOW, refund_rial=3, refunded_before_rial=refunded - 2))


def test_reversal_gives_back_credit_line_spending() -> None:
    start = member(accounts=[{"account": LINE, "balance": -100_000, "credit_limit": 1_000_000}])
    d = book([]).evaluate(purchase(amount_rial=500_000, redeem_credit_rial=400_000), start, NOW)
    m = kimia.apply(start, d)
    assert m.balance(LINE) == -500_000
    part = kimia.reverse(d, m, op_id=2, now=NOW, refund_rial=125_000)
    m = kimia.apply(m, part)
    assert m.balance(LINE) == -400_000
    m = kimia.apply(m, kimia.reverse(d, m, op_id=3, now=NOW, refunded_before_rial=125_000))
    assert m.balance(LINE) == -100_000


def test_refund_totals_match_its_postings() -> None:
    """A refund decision's own totals describe what its postings do: the points taken back from
    the member are its points_earned, the discount funding given back is its discount_rial and
    the credit restored is its credit_used_rial — for every partial refund, not only in sum.
    (Here the original's postings are split among three funders and two credit lots.)"""
    thirds = {"merchant": 3333, "club_owner": 3333, "platform": 3334}
    b = book([rule("p", {"type": "points", "fixed": 10}, funding=thirds), rule("d", {"type": "discount", "fixed_rial": 10}, funding=thirds)])
    start = holding(lot("0:0", f"{M}/cashback", 1), lot("0:1", f"{M}/virtual_credit", 1))
    d = b.evaluate(purchase(amount_rial=100, redeem_credit_rial=2), start, NOW)
    m = kimia.apply(start, d)
    refunded = 0
    for n, part in enumerate([50, 25, 25]):
        r = kimia.reverse(d, m, op_id=10 + n, now=NOW, refund_rial=part, refunded_before_rial=refunded)
        refunded += part
        moved = deltas(r)
        assert moved.get(f"{M}/points", 0) == r.points_earned, (part, r.points_earned, moved)
        # Same sign convention as a purchase: the discount account moves by discount_rial.
        assert moved.get(f"merchant:{CAFE}/discount_given", 0) == r.discount_rial, (part, r.discount_rial, moved)
        restored = moved.get(f"{M}/cashback", 0) + moved.get(f"{M}/virtual_credit", 0)
        assert restored == -r.credit_used_rial, (part, r.credit_used_rial, moved)
        m = kimia.apply(m, r)


def test_refund_payable_is_amount_less_discount_and_credit() -> None:
    """Decision.payable_rial is "amount − discount − credit used" (core/src/model.rs); a partial
    refund's own fields must keep that identity too, not only their sums over all refunds."""
    d = REFUND_BOOK.evaluate(purchase(amount_rial=3_992_393, marketer_id=3, enrolling_merchant_id=55), member(), NOW)
    m = kimia.apply(member(), d)
    refunded = 0
    for n, part in enumerate([1_242_859, 1_141_332, 1_608_202]):
        r = kimia.reverse(d, m, op_id=10 + n, now=NOW, refund_rial=part, refunded_before_rial=refunded)
        refunded += part
        assert r.amount_rial == r.payable_rial + r.discount_rial + r.credit_used_rial, r
        m = kimia.apply(m, r)


def test_reversal_restores_spent_credit_with_its_original_expiry() -> None:
    b = book([rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 1000, "expires_days": 10})])
    m = kimia.Member(member())
    d1 = b.evaluate(purchase(op_id=1, amount_rial=1_000_000), m, NOW)
    m = kimia.apply(m, d1)
    expiry = NOW + 10 * DAY
    d2 = b.evaluate(purchase(op_id=2, amount_rial=50_000, redeem_credit_rial=50_000), m, NOW + DAY)
    m = kimia.apply(m, d2)
    assert m.balance(f"{M}/cashback") == 50_000 + 5_000
    # Reversed after the credit's expiry: it comes back as it was, already expired.
    r = kimia.reverse(d2, m, op_id=3, now=NOW + 20 * DAY)
    restored = [item for item in r.lots_created if item["account"] == f"{M}/cashback"]
    assert restored == [lot("3:0", f"{M}/cashback", 50_000, expiry)]
    m = kimia.apply(m, r)
    assert m.balance(f"{M}/cashback") == 100_000
    rejected("lot_expired", lambda: b.evaluate(purchase(op_id=4, redeem_credit_rial=1), m, NOW + 20 * DAY))
    sweep = kimia.expire(1, m, op_id=5, now=NOW + 20 * DAY)
    assert sum(p["amount"] for p in sweep.postings) == 100_000
    assert kimia.apply(m, sweep).balance(f"{M}/cashback") == 0


# --- clawback policy ---------------------------------------------------------------------------

POINTS_BOOK = book([rule("p", {"type": "points", "per_rial": 1_000, "points": 1, "expires_days": 365})])
TO_CREDIT = {"club_id": 1, "default": {"points": 10, "rial": 100}}


def test_clawback_spent_points_become_debt_then_repaid_first() -> None:
    m = kimia.Member(member())
    earn = POINTS_BOOK.evaluate(purchase(op_id=1), m, NOW)
    m = kimia.apply(m, earn)
    m = kimia.apply(m, kimia.convert_points(TO_CREDIT, m, op_id=2, now=NOW, points=800))
    assert m.points == 200
    r = kimia.reverse(earn, m, op_id=3, now=NOW + DAY)
    assert postings(r, "reversal") == [(f"{M}/points", f"merchant:{CAFE}/points_issued", 200)]
    assert postings(r, "clawback") == [(f"{M}/points_debt", f"merchant:{CAFE}/points_issued", 800)]
    m = kimia.apply(m, r)
    assert m.points == 0 and m.balance(f"{M}/points_debt") == -800
    assert m.balance(f"{M}/virtual_credit") == 8_000  # what was bought with the points stays
    # The next earnings repay the debt before anything reaches the balance.
    e1 = POINTS_BOOK.evaluate(purchase(op_id=4, amount_rial=500_000), m, NOW + 2 * DAY)
    assert postings(e1) == [(f"merchant:{CAFE}/points_issued", f"{M}/points_debt", 500)]
    assert e1.lots_created == []
    m = kimia.apply(m, e1)
    assert m.points == 0 and m.balance(f"{M}/points_debt") == -300
    e2 = POINTS_BOOK.evaluate(purchase(op_id=5, amount_rial=500_000), m, NOW + 3 * DAY)
    assert sorted(postings(e2)) == sorted([(f"merchant:{CAFE}/points_issued", f"{M}/points_debt", 300), (f"merchant:{CAFE}/points_issued", f"{M}/points", 200)])
    assert e2.lots_created == [lot("5:0", f"{M}/points", 200, NOW + 3 * DAY + 365 * DAY)]
    m = kimia.apply(m, e2)
    assert m.points == 200 and m.balance(f"{M}/points_debt") == 0


def test_clawback_takes_the_reversed_operations_lots_first() -> None:
    m = kimia.Member(member())
    b = book([rule("short", {"type": "points", "per_rial": 1_000, "points": 1, "expires_days": 30}, conditions=[{"type": "amount", "max": 1_000_000}]), rule("long", {"type": "points", "per_rial": 1_000, "points": 1, "expires_days": 365}, conditions=[{"type": "amount", "min": 1_000_001}])])
    p1 = b.evaluate(purchase(op_id=1, amount_rial=1_000_000), m, NOW)  # 1000 points, expiring in 30 days
    m = kimia.apply(m, p1)
    p2 = b.evaluate(purchase(op_id=2, amount_rial=1_500_000), m, NOW)  # 1500 points, in 365 days
    m = kimia.apply(m, p2)
    m = kimia.apply(m, kimia.convert_points(TO_CREDIT, m, op_id=3, now=NOW, points=300))  # from lot 1:0
    r2 = kimia.reverse(p2, m, op_id=4, now=NOW)
    assert r2.lots_consumed == [{"lot_id": "2:0", "account": f"{M}/points", "amount": 1_500, "expires_at": NOW + 365 * DAY}]
    m = kimia.apply(m, r2)
    assert m.points == 700 and m.balance(f"{M}/points_debt") == 0
    m = kimia.apply(m, kimia.convert_points(TO_CREDIT, m, op_id=5, now=NOW, points=600))
    r1 = kimia.reverse(p1, m, op_id=6, now=NOW)
    m = kimia.apply(m, r1)
    assert m.points == 0 and m.balance(f"{M}/points_debt") == -900


def test_clawback_spent_credit_becomes_credit_debt() -> None:
    b = book([rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 1000, "expires_days": 90})])
    m = kimia.Member(member())
    p1 = b.evaluate(purchase(op_id=1), m, NOW)
    m = kimia.apply(m, p1)
    m = kimia.apply(m, b.evaluate(purchase(op_id=2, merchant_id=BAKERY, amount_rial=70_000, redeem_credit_rial=70_000), m, NOW))
    assert m.balance(f"{M}/cashback") == 30_000 + 7_000
    r = kimia.reverse(p1, m, op_id=3, now=NOW)
    m = kimia.apply(m, r)
    assert m.balance(f"{M}/cashback") == 0 and m.balance(f"{M}/credit_debt") == -63_000
    p4 = b.evaluate(purchase(op_id=4), m, NOW)
    m = kimia.apply(m, p4)
    assert m.balance(f"{M}/credit_debt") == 0 and m.balance(f"{M}/cashback") == 37_000


def test_clawback_reversal_of_a_debt_repayment_restores_the_debt() -> None:
    m = kimia.Member(member(accounts=[{"account": f"{M}/points_debt", "balance": -300}]))
    earn = POINTS_BOOK.evaluate(purchase(op_id=1), m, NOW)
    m = kimia.apply(m, earn)
    assert m.points == 700 and m.balance(f"{M}/points_debt") == 0
    m = kimia.apply(m, kimia.reverse(earn, m, op_id=2, now=NOW))
    assert m.points == 0 and m.balance(f"{M}/points_debt") == -300


def test_clawback_referral_points_stay_with_the_introducer() -> None:
    b = book([rule("ref", {"type": "referral", "per_rial": 100_000, "points": 1})])
    d = b.evaluate(purchase(), member(referrer_id=7), NOW)
    assert postings(d) == [(f"merchant:{CAFE}/points_issued", "member:7/points", 10)]
    r = kimia.reverse(d, kimia.apply(member(referrer_id=7), d), op_id=2, now=NOW)
    assert r.postings == []


# --- holds -------------------------------------------------------------------------------------


def test_hold_complete_cancel() -> None:
    b = book([rule("p", {"type": "points", "fixed": 10})])
    start = holding(lot("0:0", f"{M}/cashback", 50_000, NOW + 30 * DAY))
    d = b.evaluate(purchase(op_id=5, redeem_credit_rial=30_000), start, NOW)
    h = kimia.hold(d)
    assert h.kind == "hold" and h.is_balanced()
    assert postings(h) == [(f"{M}/cashback", f"{M}/held@hold:5", 30_000)]
    m1 = kimia.apply(start, h)
    assert m1.balance(f"{M}/cashback") == 20_000 and m1.balance(f"{M}/held@hold:5") == 30_000 and m1.points == 0
    done = kimia.complete_hold(d, op_id=6, now=NOW + 60)
    m2 = kimia.apply(m1, done)
    assert m2.balance(f"{M}/held@hold:5") == 0 and m2.points == 10
    assert m2.balance(f"{M}/cashback") == 20_000
    cancelled = kimia.cancel_hold(h, op_id=7, now=NOW + 60)
    m3 = kimia.apply(m1, cancelled)
    assert m3.balance(f"{M}/held@hold:5") == 0 and m3.balance(f"{M}/cashback") == 50_000
    assert [item["expires_at"] for item in m3.to_dict()["lots"]] == [NOW + 30 * DAY, NOW + 30 * DAY]


def test_hold_completed_then_reversed_gives_the_credit_back() -> None:
    """Reversing a completed hold must return the spent credit to the member's spendable credit
    (as a direct purchase's reversal does), not leave it in the emptied hold account."""
    b = book([rule("p", {"type": "points", "fixed": 10})])
    start = holding(lot("0:0", f"{M}/cashback", 50_000, NOW + 30 * DAY))
    d = b.evaluate(purchase(op_id=5, redeem_credit_rial=30_000), start, NOW)
    m = apply_all(start, [kimia.hold(d), kimia.complete_hold(d, op_id=6, now=NOW + 60)])
    done = kimia.complete_hold(d, op_id=6, now=NOW + 60)
    m = kimia.apply(m, kimia.reverse(done, m, op_id=7, now=NOW + 120))
    assert m.points == 0
    assert m.balance(f"{M}/held@hold:5") == 0
    assert m.balance(f"{M}/cashback") == 50_000
    assert b.evaluate(purchase(op_id=8, redeem_credit_rial=50_000), m, NOW + 180).credit_used_rial == 50_000


# --- V6–V11: tier period close -----------------------------------------------------------------

TIER_CONFIG = {
    "tiers": [
        {"name": "bronze"},
        {"name": "silver", "rise_at": 1_000, "stay_at": 500, "grace_periods": 1, "deduct_bp": 1_000},
        {"name": "gold", "rise_at": 5_000, "stay_at": 3_000, "deduct_bp": 2_000},
        {"name": "platinum", "rise_at": 20_000, "stay_at": 15_000, "grace_periods": 2, "deduct_bp": 3_000},
    ]
}
PERIOD_END = at(2027, 3, 20, 23, 59)

# (name, tier, period points, grace used, frozen until, manual tier) -> (tier, reason, grace used, deducted)
TIER_CASES: list[tuple[str, tuple[int, int, int, int, int], tuple[int, str, int, int]]] = [
    ("up one", (0, 1_000, 0, 0, -1), (1, "up", 0, 100)),
    ("up several", (0, 6_000, 0, 0, -1), (2, "up", 0, 1_200)),
    ("up to the top", (1, 25_000, 1, 0, -1), (3, "up", 0, 7_500)),
    ("stay", (1, 600, 0, 0, -1), (1, "stay", 0, 60)),
    ("stay resets grace", (1, 500, 1, 0, -1), (1, "stay", 0, 50)),
    ("stay: reaching a higher rise_at but not above", (2, 4_000, 0, 0, -1), (2, "stay", 0, 800)),
    ("grace", (1, 100, 0, 0, -1), (1, "grace", 1, 10)),
    ("grace used up: down", (1, 100, 1, 0, -1), (0, "down", 0, 0)),
    ("down one", (2, 600, 0, 0, -1), (1, "down", 0, 60)),
    ("down several", (2, 100, 0, 0, -1), (0, "down", 0, 0)),
    ("platinum grace 1", (3, 1_000, 0, 0, -1), (3, "grace", 1, 300)),
    ("platinum grace 2", (3, 1_000, 1, 0, -1), (3, "grace", 2, 300)),
    ("platinum down to silver", (3, 1_000, 2, 0, -1), (1, "down", 0, 100)),
    ("platinum down to gold", (3, 3_000, 2, 0, -1), (2, "down", 0, 600)),
    ("lowest never falls", (0, 0, 0, 0, -1), (0, "stay", 0, 0)),
    ("frozen", (2, 0, 0, PERIOD_END + 1, -1), (2, "frozen", 0, 0)),
    ("freeze ended", (2, 0, 0, PERIOD_END, -1), (0, "down", 0, 0)),
    ("frozen keeps grace count", (1, 0, 1, PERIOD_END + DAY, -1), (1, "frozen", 1, 0)),
    ("manual beats everything", (0, 0, 0, PERIOD_END + DAY, 3), (3, "manual", 0, 0)),
    ("manual down", (3, 50_000, 0, 0, 1), (1, "manual", 0, 5_000)),
    ("manual above the top is the top", (0, 0, 0, 0, 9), (3, "manual", 0, 0)),
]


@pytest.mark.parametrize(("given", "expected"), [c[1:] for c in TIER_CASES], ids=[c[0] for c in TIER_CASES])
def test_v6_v11_tier_period_close(given: tuple[int, int, int, int, int], expected: tuple[int, str, int, int]) -> None:
    tier, points, grace, frozen, manual = given
    out = kimia.close_tier_period(TIER_CONFIG, tier=[tier], period_points=[points], period_end=PERIOD_END, grace_used=[grace], frozen_until=[frozen], manual_tier=[manual])
    assert (out["tier"][0], out["reason"][0], out["grace_used"][0], out["deducted_points"][0]) == expected


def test_v6_tier_period_close_is_columnar_for_a_whole_club() -> None:
    cases = [c[1] for c in TIER_CASES]
    out = kimia.close_tier_period(
        TIER_CONFIG,
        tier=[c[0] for c in cases],
        period_points=[c[1] for c in cases],
        period_end=PERIOD_END,
        grace_used=[c[2] for c in cases],
        frozen_until=[c[3] for c in cases],
        manual_tier=[c[4] for c in cases],
    )
    assert list(zip(out["tier"], out["reason"], out["grace_used"], out["deducted_points"])) == [c[2] for c in TIER_CASES]
    defaults = kimia.close_tier_period(TIER_CONFIG, tier=[0, 1, 2], period_points=[1_000, 100, 100], period_end=PERIOD_END)
    assert defaults == {"tier": [1, 1, 0], "reason": ["up", "grace", "down"], "grace_used": [0, 1, 0], "deducted_points": [100, 10, 0]}
    assert kimia.close_tier_period(TIER_CONFIG, tier=[], period_points=[], period_end=PERIOD_END) == {"tier": [], "reason": [], "grace_used": [], "deducted_points": []}


def test_v7_v11_thresholds_differ_per_tier_and_tiers_earn_differently() -> None:
    """Rising into silver takes 1,000 points and staying 500; gold 5,000 and 3,000 — and a gold
    member earns twice the points of a bronze one (tier multipliers, R7)."""
    out = kimia.close_tier_period(TIER_CONFIG, tier=[0, 1, 1, 2], period_points=[999, 499, 4_999, 2_999], period_end=PERIOD_END, grace_used=[0, 1, 0, 0])
    assert out["tier"] == [0, 0, 1, 1]
    b = book([rule("p", {"type": "points", "per_rial": 10_000, "points": 1, "tier_multipliers_bp": {"gold": 20_000}})])
    assert b.evaluate(purchase(), member(tier="gold"), NOW).points_earned == 2 * b.evaluate(purchase(), member(tier="bronze"), NOW).points_earned


@pytest.mark.parametrize(
    "config",
    [
        {"tiers": []},
        {"tiers": [{"name": "a", "rise_at": -1}]},
        {"tiers": [{"name": "a", "stay_at": -1}]},
        {"tiers": [{"name": "a", "grace_periods": -1}]},
        {"tiers": [{"name": "a", "deduct_bp": 10_001}]},
        {"tiers": [{"name": "a", "rise_at": 100}, {"name": "b", "rise_at": 50}]},
        {"tiers": [{"name": f"t{i}", "rise_at": i} for i in range(101)]},
        {"tiers": [{"name": "a", "colour": "red"}]},
        {"levels": []},
    ],
)
def test_v6_invalid_tier_config(config: dict[str, Any]) -> None:
    e = rejected("invalid_tier_config", lambda: kimia.close_tier_period(config, tier=[0], period_points=[0], period_end=PERIOD_END))
    assert isinstance(e, kimia.Rejected) and e.message_fa


def test_local_day_helper_matches_the_core() -> None:
    d = book([]).evaluate(purchase(), member(), at(2026, 12, 18, 0, 10))
    assert d.counters["day"] == local_day(at(2026, 12, 18, 0, 10))
