"""R5 — the purchase: amount thresholds, every nth purchase, first purchase, payment method,
channel; and the all / any / not combinators."""

from __future__ import annotations

from typing import Any

import pytest

import kimia

from .helpers import CAFE, GARAGE, at, book, check_line, holding, lines, lot, member, purchase, rule

NOW = at(2026, 12, 17, 11)


def _line(conditions: list[dict[str, Any]], fields: dict[str, Any], snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    b = book([rule("r", {"type": "points", "fixed": 2}, conditions=conditions)])
    d = b.evaluate(purchase(**fields), snapshot or member(), NOW)
    line = lines(d)["r"]
    assert d.points_earned == (2 if line["code"] == "applied" else 0)
    return line


def _check(conditions: list[dict[str, Any]], fields: dict[str, Any], applies: bool, snapshot: dict[str, Any] | None = None) -> None:
    line = _line(conditions, fields, snapshot)
    if applies:
        check_line(line, "applied")
    else:
        check_line(line, "condition_failed", condition=conditions[0]["type"])


R5_AMOUNT: list[tuple[str, dict[str, Any], int, bool]] = [
    ("at min", {"min": 500_000}, 500_000, True),
    ("below min", {"min": 500_000}, 499_999, False),
    ("at max", {"max": 2_000_000}, 2_000_000, True),
    ("above max", {"max": 2_000_000}, 2_000_001, False),
    ("band inside", {"min": 100, "max": 200}, 150, True),
    ("band below", {"min": 100, "max": 200}, 99, False),
    ("exact", {"min": 777, "max": 777}, 777, True),
]


@pytest.mark.parametrize(("bounds", "amount", "applies"), [c[1:] for c in R5_AMOUNT], ids=[c[0] for c in R5_AMOUNT])
def test_r5_purchase_amount_threshold(bounds: dict[str, Any], amount: int, applies: bool) -> None:
    _check([{"type": "amount", **bounds}], {"amount_rial": amount}, applies)


R5_NTH: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("3rd purchase", {"n": 3}, {"purchase_count": 2}, True),
    ("4th purchase", {"n": 3}, {"purchase_count": 3}, False),
    ("6th purchase", {"n": 3}, {"purchase_count": 5}, True),
    ("1st purchase", {"n": 3}, {"purchase_count": 0}, False),
    ("every purchase", {"n": 1}, {"purchase_count": 0}, True),
    ("5th here, 12th overall", {"n": 5, "at_merchant": True}, {"purchase_count": 11, "merchant_purchase_count": 4}, True),
    ("5th overall, 3rd here", {"n": 5, "at_merchant": True}, {"purchase_count": 4, "merchant_purchase_count": 2}, False),
    ("5th overall not here", {"n": 5}, {"purchase_count": 4, "merchant_purchase_count": 2}, True),
]


@pytest.mark.parametrize(("cond", "fields", "applies"), [c[1:] for c in R5_NTH], ids=[c[0] for c in R5_NTH])
def test_r5_purchase_every_nth(cond: dict[str, Any], fields: dict[str, Any], applies: bool) -> None:
    _check([{"type": "nth_purchase", **cond}], {}, applies, member(**fields))


def test_r5_purchase_every_nth_through_applied_history() -> None:
    """Applying decisions moves the purchase count, so every 3rd purchase is rewarded."""
    import kimia

    b = book([rule("third", {"type": "discount", "fixed_rial": 10_000}, conditions=[{"type": "nth_purchase", "n": 3}])])
    m = kimia.Member(member())
    rewarded = []
    for n in range(1, 10):
        d = b.evaluate(purchase(op_id=n), m, NOW + n * 60)
        rewarded.append(d.discount_rial > 0)
        m = kimia.apply(m, d)
    assert rewarded == [False, False, True] * 3
    assert m.to_dict()["purchase_count"] == 9


@pytest.mark.parametrize(("count", "applies"), [(0, True), (1, False), (10, False)])
def test_r5_purchase_first_purchase(count: int, applies: bool) -> None:
    _check([{"type": "first_purchase"}], {}, applies, member(purchase_count=count))


R5_PAYMENT: list[tuple[str, list[str], str | None, bool]] = [
    ("card default", ["card"], None, True),
    ("cash", ["cash", "mixed"], "cash", True),
    ("mixed", ["cash", "mixed"], "mixed", True),
    ("card not allowed", ["cash", "mixed"], "card", False),
    # Issue 12 item 14: "credit" is what the purchase redeems, not what the caller declares.
    ("credit declared, nothing redeemed", ["credit"], "credit", False),
]


@pytest.mark.parametrize(("methods", "method", "applies"), [c[1:] for c in R5_PAYMENT], ids=[c[0] for c in R5_PAYMENT])
def test_r5_purchase_payment_method(methods: list[str], method: str | None, applies: bool) -> None:
    fields = {} if method is None else {"payment_method": method}
    _check([{"type": "payment_method", "methods": methods}], fields, applies)


R5_CHANNEL: list[tuple[str, list[str], str | None, bool]] = [
    ("pos default", ["pos"], None, True),
    ("pcpos", ["pcpos"], "pcpos", True),
    ("app or web", ["app", "web"], "web", True),
    ("api not listed", ["app", "web"], "api", False),
    ("panel", ["panel"], "panel", True),
    ("pos not listed", ["pcpos"], None, False),
]


@pytest.mark.parametrize(("channels", "channel", "applies"), [c[1:] for c in R5_CHANNEL], ids=[c[0] for c in R5_CHANNEL])
def test_r5_purchase_channel(channels: list[str], channel: str | None, applies: bool) -> None:
    fields = {} if channel is None else {"channel": channel}
    _check([{"type": "channel", "channels": channels}], fields, applies)


BIG = {"type": "amount", "min": 1_000_000}
CASH = {"type": "payment_method", "methods": ["cash"]}
APP = {"type": "channel", "channels": ["app"]}

R5_COMBINATORS: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("all hold", {"type": "all", "of": [BIG, CASH]}, {"amount_rial": 1_000_000, "payment_method": "cash"}, True),
    ("all, one fails", {"type": "all", "of": [BIG, CASH]}, {"amount_rial": 1_000_000}, False),
    ("any, first holds", {"type": "any", "of": [BIG, CASH]}, {"amount_rial": 1_000_000}, True),
    ("any, second holds", {"type": "any", "of": [BIG, CASH]}, {"amount_rial": 10, "payment_method": "cash"}, True),
    ("any, none holds", {"type": "any", "of": [BIG, CASH]}, {"amount_rial": 10}, False),
    ("not, inner fails", {"type": "not", "of": CASH}, {}, True),
    ("not, inner holds", {"type": "not", "of": CASH}, {"payment_method": "cash"}, False),
    (
        "nested: big and (cash or app) and not pcpos",
        {"type": "all", "of": [BIG, {"type": "any", "of": [CASH, APP]}, {"type": "not", "of": {"type": "channel", "channels": ["pcpos"]}}]},
        {"amount_rial": 2_000_000, "channel": "app"},
        True,
    ),
    (
        "nested fails on the inner any",
        {"type": "all", "of": [BIG, {"type": "any", "of": [CASH, APP]}]},
        {"amount_rial": 2_000_000, "channel": "web"},
        False,
    ),
    ("empty all holds", {"type": "all", "of": []}, {}, True),
    ("empty any fails", {"type": "any", "of": []}, {}, False),
]


@pytest.mark.parametrize(("condition", "fields", "applies"), [c[1:] for c in R5_COMBINATORS], ids=[c[0] for c in R5_COMBINATORS])
def test_r5_purchase_combinators(condition: dict[str, Any], fields: dict[str, Any], applies: bool) -> None:
    _check([condition], fields, applies)


def test_r5_purchase_first_failing_condition_is_named() -> None:
    """Top-level conditions all must hold; the explanation names the first one that fails."""
    line = _line([BIG, CASH, APP], {"amount_rial": 2_000_000, "payment_method": "cash"})
    check_line(line, "condition_failed", condition="channel")
    line = _line([BIG, CASH, APP], {"amount_rial": 2_000_000})
    check_line(line, "condition_failed", condition="payment_method")


CASHBACK = lot("0:0", "member:42/cashback", 50_000, at(2027, 1, 1))
MERCHANT_CREDIT = lot("0:1", f"member:42/merchant_credit@merchant:{CAFE}", 30_000, at(2026, 12, 30))
WALLET = holding(CASHBACK, MERCHANT_CREDIT)
CREDIT_LINE = member(accounts=[{"account": "member:42/credit_line", "balance": 0, "credit_limit": 100_000}])


def _applies(condition: dict[str, Any], snapshot: dict[str, Any], **fields: Any) -> bool:
    b = book([rule("r", conditions=[condition])])
    line = lines(b.evaluate(purchase(**fields), snapshot, NOW))["r"]
    if line["code"] == "applied":
        check_line(line, "applied")
        return True
    check_line(line, "condition_failed", condition="payment_method")
    return False


PAID_WITH_CREDIT: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], bool]] = [
    ("redeems credit, declared card", {"methods": ["credit"]}, WALLET, {"redeem_credit_rial": 10_000}, True),
    ("redeems credit, declared credit", {"methods": ["credit"]}, WALLET, {"redeem_credit_rial": 10_000, "payment_method": "credit"}, True),
    ("declared credit, redeems nothing", {"methods": ["credit"]}, WALLET, {"payment_method": "credit"}, False),
    ("card still matches a purchase part paid with credit", {"methods": ["card"]}, WALLET, {"redeem_credit_rial": 10_000}, True),
    # Merchant credit expires first, so 10,000 comes from it; 40,000 takes cashback too.
    ("merchant credit only, drawn", {"methods": ["credit"], "credit_kinds": ["merchant"]}, WALLET, {"redeem_credit_rial": 10_000}, True),
    ("cashback only, not drawn", {"methods": ["credit"], "credit_kinds": ["cashback"]}, WALLET, {"redeem_credit_rial": 10_000}, False),
    ("cashback only, drawn after merchant credit", {"methods": ["credit"], "credit_kinds": ["cashback"]}, WALLET, {"redeem_credit_rial": 40_000}, True),
    ("merchant credit of another shop is not drawn", {"methods": ["credit"], "credit_kinds": ["merchant"]}, WALLET,
     {"redeem_credit_rial": 10_000, "merchant_id": GARAGE, "merchant_groups": []}, False),
    ("credit line", {"methods": ["credit"], "credit_kinds": ["credit_line"]}, CREDIT_LINE, {"redeem_credit_rial": 10_000}, True),
    ("credit line is not gift credit", {"methods": ["credit"], "credit_kinds": ["gift"]}, CREDIT_LINE, {"redeem_credit_rial": 10_000}, False),
]


@pytest.mark.parametrize(("condition", "snapshot", "fields", "applies"), [c[1:] for c in PAID_WITH_CREDIT], ids=[c[0] for c in PAID_WITH_CREDIT])
def test_r5_paid_with_credit_follows_from_what_is_redeemed(condition: dict[str, Any], snapshot: dict[str, Any], fields: dict[str, Any], applies: bool) -> None:
    """Issue 12 item 14."""
    if "merchant_id" in fields:
        # At the garage the cafe's merchant credit cannot be spent: only the cashback pays.
        snapshot = holding(MERCHANT_CREDIT, lot("0:2", "member:42/cashback", 50_000, at(2027, 1, 1)))
    assert _applies({"type": "payment_method", **condition}, snapshot, **fields) is applies


def test_r13_credit_spend_discount_limited_to_credit_kinds() -> None:
    """Issue 12 item 14: 5% off the part paid with merchant credit only."""
    b = book([rule("pwmc", {"type": "credit_spend_discount", "percent_bp": 500, "credit_kinds": ["merchant"]})])
    # 40,000 redeemed: 30,000 merchant credit (expires first), 10,000 cashback.
    d = b.evaluate(purchase(redeem_credit_rial=40_000), WALLET, NOW)
    assert d.credit_used_rial == 40_000
    assert d.discount_rial == 1_500
    check_line(lines(d)["pwmc"], "applied")
    # Paying with cashback alone gives nothing; with no kinds listed, all credit counts.
    cashback_only = holding(lot("0:0", "member:42/cashback", 50_000))
    check_line(lines(b.evaluate(purchase(redeem_credit_rial=40_000), cashback_only, NOW))["pwmc"], "nothing_to_give")
    any_kind = book([rule("pwc", {"type": "credit_spend_discount", "percent_bp": 500})])
    assert any_kind.evaluate(purchase(redeem_credit_rial=40_000), WALLET, NOW).discount_rial == 2_000
    kimia.apply(WALLET, d)


def test_r13_credit_kinds_in_the_schema_and_rejected_without_credit() -> None:
    with pytest.raises(kimia.RuleError) as e:
        book([rule("r", conditions=[{"type": "payment_method", "methods": ["card"], "credit_kinds": ["gift"]}])])
    assert e.value.path == "rules[0].conditions[0].credit_kinds"
    with pytest.raises(kimia.RuleError) as e:
        book([rule("r", conditions=[{"type": "payment_method", "methods": ["credit"], "credit_kinds": ["points"]}])])
    assert e.value.path == "rules[0].conditions[0].credit_kinds[0]"
