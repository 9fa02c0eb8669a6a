"""R1 (who sells) and R2 (what is sold), through the public API."""

from __future__ import annotations

from typing import Any

import pytest

import kimia

from .helpers import BAKERY, CAFE, at, book, check_line, codes, lines, member, purchase, rule, rejected

NOW = at(2026, 12, 17, 11)


# --- R1: who sells --------------------------------------------------------------------------

R1_SCOPE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("merchant hit", {"merchants": [CAFE]}, {}, True),
    ("merchant miss", {"merchants": [CAFE]}, {"merchant_id": BAKERY}, False),
    ("merchant list", {"merchants": [BAKERY, CAFE]}, {}, True),
    ("merchant group hit", {"merchant_groups": [10]}, {"merchant_groups": [11, 10]}, True),
    ("merchant group miss", {"merchant_groups": [10]}, {"merchant_groups": [11]}, False),
    ("merchant group none", {"merchant_groups": [10]}, {"merchant_groups": []}, False),
    ("branch hit", {"branches": [5]}, {"branch_id": 5}, True),
    ("branch other", {"branches": [5]}, {"branch_id": 6}, False),
    ("branch unknown", {"branches": [5]}, {}, False),
    ("club itself", {"clubs": [1]}, {"club_path": [1]}, True),
    ("sub-club inside", {"clubs": [2]}, {"club_id": 3, "club_path": [3, 2, 1]}, True),
    ("sub-club sibling", {"clubs": [4]}, {"club_id": 3, "club_path": [3, 2, 1]}, False),
    ("sub-club above", {"clubs": [3]}, {"club_id": 1, "club_path": [1]}, False),
    ("merchant and group both", {"merchants": [CAFE], "merchant_groups": [10]}, {}, True),
    ("merchant and group, group missing", {"merchants": [CAFE], "merchant_groups": [10]}, {"merchant_groups": []}, False),
    ("merchant and branch", {"merchants": [CAFE], "branches": [5]}, {"branch_id": 5}, True),
]


@pytest.mark.parametrize(("scope", "fields", "applies"), [c[1:] for c in R1_SCOPE_CASES], ids=[c[0] for c in R1_SCOPE_CASES])
def test_r1_who_sells_scope(scope: dict[str, Any], fields: dict[str, Any], applies: bool) -> None:
    b = book([rule("r", {"type": "discount", "fixed_rial": 5_000}, scope=scope)])
    d = b.evaluate(purchase(**fields), member(), NOW)
    if applies:
        check_line(lines(d)["r"], "applied")
        assert d.discount_rial == 5_000 and d.applied_rules == ["r"]
    else:
        assert d.discount_rial == 0 and d.applied_rules == []
        if "r" in lines(d):
            check_line(lines(d)["r"], "not_in_scope")
        else:
            # Rules indexed under other merchants or merchant groups are not even visited (the
            # compiled index), so they add no line to the explanation.
            assert scope.get("merchants") or scope.get("merchant_groups")


def test_r1_who_sells_not_in_scope_is_explained() -> None:
    """A visited rule whose scope fails is explained as not_in_scope, in both languages."""
    b = book(
        [
            rule("branch", scope={"branches": [5]}),
            rule("subclub", scope={"clubs": [2]}),
            rule("cafe-in-group", scope={"merchants": [CAFE], "merchant_groups": [11]}),
        ]
    )
    d = b.evaluate(purchase(branch_id=6), member(), NOW)
    for rule_id in ("branch", "subclub", "cafe-in-group"):
        check_line(lines(d)[rule_id], "not_in_scope")
    assert d.discount_rial == 0


R1_CONDITION_CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("merchant", {"type": "merchant", "ids": [CAFE]}, {}, True),
    ("merchant", {"type": "merchant", "ids": [CAFE]}, {"merchant_id": BAKERY}, False),
    ("merchant_group", {"type": "merchant_group", "ids": [10, 12]}, {"merchant_groups": [12]}, True),
    ("merchant_group", {"type": "merchant_group", "ids": [10]}, {"merchant_groups": [11]}, False),
    ("branch", {"type": "branch", "ids": [5]}, {"branch_id": 5}, True),
    ("branch", {"type": "branch", "ids": [5]}, {"branch_id": 7}, False),
    ("club", {"type": "club", "ids": [2]}, {"club_id": 3, "club_path": [3, 2, 1]}, True),
    ("club", {"type": "club", "ids": [2]}, {"club_id": 1, "club_path": [1]}, False),
]


@pytest.mark.parametrize(("condition", "fields", "applies"), [c[1:] for c in R1_CONDITION_CASES], ids=[f"{c[0]}-{c[3]}" for c in R1_CONDITION_CASES])
def test_r1_who_sells_conditions(condition: dict[str, Any], fields: dict[str, Any], applies: bool) -> None:
    b = book([rule("r", {"type": "points", "fixed": 7}, conditions=[condition])])
    d = b.evaluate(purchase(**fields), member(), NOW)
    if applies:
        check_line(lines(d)["r"], "applied")
        assert d.points_earned == 7
    else:
        check_line(lines(d)["r"], "condition_failed", condition=condition["type"])
        assert d.points_earned == 0


def test_r1_who_sells_index_visits_every_relevant_rule() -> None:
    """Rules indexed by merchant, by group, and global all reach a purchase; others are not visited."""
    b = book(
        [
            rule("global", {"type": "points", "fixed": 1}),
            rule("cafe", {"type": "points", "fixed": 10}, scope={"merchants": [CAFE]}),
            rule("group10", {"type": "points", "fixed": 100}, scope={"merchant_groups": [10]}),
            rule("bakery", {"type": "points", "fixed": 1000}, scope={"merchants": [BAKERY]}),
            rule("group99", {"type": "points", "fixed": 10000}, scope={"merchant_groups": [99]}),
        ]
    )
    d = b.evaluate(purchase(), member(), NOW)
    assert d.points_earned == 111
    assert sorted(d.applied_rules) == ["cafe", "global", "group10"]
    # Rules of other merchants/groups are never candidates, so they are not explained either.
    assert set(codes(d)) == {"global", "cafe", "group10"}
    d = b.evaluate(purchase(merchant_id=BAKERY, merchant_groups=[99, 10]), member(), NOW)
    assert d.points_earned == 11_101


# --- R2: what is sold -----------------------------------------------------------------------

BASKET = [
    {"goods_id": "beans-1kg", "group": "coffee-beans", "quantity": 1, "amount_rial": 900_000},
    {"goods_id": "cup", "group": "merch", "quantity": 2, "amount_rial": 300_000},
    {"goods_id": "beans-250g", "group": "coffee-beans", "quantity": 1, "amount_rial": 250_000},
]
BASKET_TOTAL = 1_450_000

R2_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any], int]] = [
    # (name, conditions, effect, expected discount) — a 10% discount applies to the matching lines only.
    ("goods group", [{"type": "goods_group", "ids": ["coffee-beans"]}], {"type": "discount", "percent_bp": 1000}, 115_000),
    ("one good", [{"type": "goods", "ids": ["cup"]}], {"type": "discount", "percent_bp": 1000}, 30_000),
    ("two goods", [{"type": "goods", "ids": ["cup", "beans-250g"]}], {"type": "discount", "percent_bp": 1000}, 55_000),
    (
        "goods or group lines, both conditions",
        [{"type": "goods", "ids": ["cup"]}, {"type": "goods_group", "ids": ["coffee-beans"]}],
        {"type": "discount", "percent_bp": 1000},
        145_000,
    ),
    ("no goods condition: whole amount", [], {"type": "discount", "percent_bp": 1000}, 145_000),
    ("fixed amount is not scaled", [{"type": "goods", "ids": ["cup"]}], {"type": "discount", "fixed_rial": 7_000}, 7_000),
    ("percent capped on lines", [{"type": "goods_group", "ids": ["coffee-beans"]}], {"type": "discount", "percent_bp": 5000, "cap_rial": 400_000}, 400_000),
]


@pytest.mark.parametrize(("conditions", "effect", "discount"), [c[1:] for c in R2_CASES], ids=[c[0] for c in R2_CASES])
def test_r2_what_is_sold_percent_on_matching_lines(conditions: list[dict[str, Any]], effect: dict[str, Any], discount: int) -> None:
    b = book([rule("r", effect, conditions=conditions)])
    d = b.evaluate(purchase(amount_rial=BASKET_TOTAL, basket=BASKET, channel="pcpos"), member(), NOW)
    check_line(lines(d)["r"], "applied")
    assert d.discount_rial == discount
    assert d.payable_rial == BASKET_TOTAL - discount


def test_r2_what_is_sold_points_and_credit_on_lines() -> None:
    b = book(
        [
            rule("beans-points", {"type": "points", "per_rial": 10_000, "points": 1}, conditions=[{"type": "goods_group", "ids": ["coffee-beans"]}]),
            rule(
                "cup-credit",
                {"type": "credit", "kind": "merchant", "percent_bp": 2000, "expires_days": 30},
                conditions=[{"type": "goods", "ids": ["cup"]}],
            ),
        ]
    )
    d = b.evaluate(purchase(amount_rial=BASKET_TOTAL, basket=BASKET), member(), NOW)
    assert d.points_earned == 115
    assert dict(d.deltas)[f"member:42/merchant_credit@merchant:{CAFE}"] == 60_000


@pytest.mark.parametrize(
    ("condition", "name"),
    [({"type": "goods_group", "ids": ["tea"]}, "goods_group"), ({"type": "goods", "ids": ["mug"]}, "goods")],
)
def test_r2_what_is_sold_no_matching_line(condition: dict[str, Any], name: str) -> None:
    b = book([rule("r", {"type": "discount", "percent_bp": 1000}, conditions=[condition])])
    with_basket = b.evaluate(purchase(amount_rial=BASKET_TOTAL, basket=BASKET), member(), NOW)
    without_basket = b.evaluate(purchase(), member(), NOW)
    for d in (with_basket, without_basket):
        check_line(lines(d)["r"], "condition_failed", condition=name)
        assert d.discount_rial == 0


def test_r2_what_is_sold_basket_must_add_up() -> None:
    b = book([rule("r")])
    e = rejected("basket_mismatch", lambda: b.evaluate(purchase(amount_rial=BASKET_TOTAL + 1, basket=BASKET), member(), NOW))
    assert e.path == "basket"
    assert isinstance(e, kimia.Rejected)
    assert e.params == {"basket": str(BASKET_TOTAL), "amount": str(BASKET_TOTAL + 1)}
