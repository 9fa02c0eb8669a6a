"""Stacking (stackable, exclusive, first_match), budgets (per rule/member/merchant, per
day/month/total, in rials and counts) and explanations in Persian and English."""

from __future__ import annotations

import re
from typing import Any

import pytest

import kimia

from .helpers import (
    BAKERY,
    CAFE,
    DAY,
    at,
    book,
    check_line,
    codes,
    holding,
    lines,
    local_day,
    lot,
    member,
    purchase,
    rejected,
    rule,
)

NOW = at(2026, 12, 17, 11)
CAMPAIGNS = [{"name": "campaigns", "mode": "exclusive"}, {"name": "welcome", "mode": "first_match"}]


# --- stacking ----------------------------------------------------------------------------------


def test_stacking_stackable_all_apply() -> None:
    b = book([rule("a", {"type": "discount", "fixed_rial": 10_000}), rule("b", {"type": "points", "fixed": 5}), rule("c", {"type": "discount", "percent_bp": 100})])
    d = b.evaluate(purchase(), member(), NOW)
    assert sorted(d.applied_rules) == ["a", "b", "c"]
    assert d.discount_rial == 20_000 and d.points_earned == 5
    for line in d.explanation:
        check_line(line, "applied")


EXCLUSIVE_RULES = [
    rule("fixed-50k", {"type": "discount", "fixed_rial": 50_000}, stacking_group="campaigns", priority=10),
    rule("points-1-per-1000", {"type": "points", "per_rial": 1_000, "points": 1}, stacking_group="campaigns", priority=5),
    rule("credit-8pc", {"type": "credit", "kind": "merchant", "percent_bp": 800}, stacking_group="campaigns"),
]


@pytest.mark.parametrize(
    ("point_value", "winner"),
    [(100, "points-1-per-1000"), (1, "credit-8pc"), (60, "credit-8pc"), (81, "points-1-per-1000")],
)
@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_stacking_exclusive_best_value_wins(point_value: int, winner: str, order: tuple[int, int, int]) -> None:
    """The rule worth most to the member wins (points valued at point_value_rial), whatever the
    order or priority; each loser is explained with the winner's name."""
    rules = [dict(EXCLUSIVE_RULES[i]) for i in order]
    b = book(rules, stacking_groups=CAMPAIGNS, point_value_rial=point_value)
    d = b.evaluate(purchase(), member(), NOW)
    assert d.applied_rules == [winner]
    for rule_id, line in lines(d).items():
        if rule_id == winner:
            check_line(line, "applied")
        else:
            check_line(line, "lost_to_better_rule")


def test_stacking_exclusive_loser_names_the_rule_that_applied() -> None:
    """Every loser of an exclusive group is told which rule won — the one that applied — not a
    rule that itself lost later. Order: fixed-50k, then points (worth 1,000 rial at 1 rial a
    point: loses to fixed-50k), then credit-8pc (80,000: beats fixed-50k)."""
    b = book(EXCLUSIVE_RULES, stacking_groups=CAMPAIGNS, point_value_rial=1)
    d = b.evaluate(purchase(), member(), NOW)
    assert d.applied_rules == ["credit-8pc"]
    check_line(lines(d)["fixed-50k"], "lost_to_better_rule", winner="credit-8pc")
    check_line(lines(d)["points-1-per-1000"], "lost_to_better_rule", winner="credit-8pc")


def test_stacking_exclusive_tie_keeps_the_earlier_rule() -> None:
    b = book(
        [
            rule("low", {"type": "discount", "fixed_rial": 30_000}, stacking_group="campaigns", priority=1),
            rule("high", {"type": "discount", "fixed_rial": 30_000}, stacking_group="campaigns", priority=9),
        ],
        stacking_groups=CAMPAIGNS,
    )
    d = b.evaluate(purchase(), member(), NOW)
    assert d.applied_rules == ["high"]
    check_line(lines(d)["low"], "lost_to_better_rule", winner="high")


def test_stacking_exclusive_only_among_matching_rules() -> None:
    b = book(
        [
            rule("big-but-gold", {"type": "discount", "fixed_rial": 500_000}, stacking_group="campaigns", conditions=[{"type": "tier", "names": ["gold"]}]),
            rule("small", {"type": "discount", "fixed_rial": 10_000}, stacking_group="campaigns"),
            rule("stackable", {"type": "points", "fixed": 1}),
        ],
        stacking_groups=CAMPAIGNS,
    )
    d = b.evaluate(purchase(), member(), NOW)
    assert sorted(d.applied_rules) == ["small", "stackable"]
    check_line(lines(d)["big-but-gold"], "condition_failed", condition="tier")
    d = b.evaluate(purchase(), member(tier="gold"), NOW)
    assert sorted(d.applied_rules) == ["big-but-gold", "stackable"]
    check_line(lines(d)["small"], "lost_to_better_rule", winner="big-but-gold")


def test_stacking_first_match_by_priority() -> None:
    b = book(
        [
            rule("w10", {"type": "discount", "fixed_rial": 1}, stacking_group="welcome", priority=10),
            rule("w30", {"type": "discount", "fixed_rial": 300}, stacking_group="welcome", priority=30, conditions=[{"type": "first_purchase"}]),
            rule("w20", {"type": "discount", "fixed_rial": 200}, stacking_group="welcome", priority=20),
        ],
        stacking_groups=CAMPAIGNS,
    )
    d = b.evaluate(purchase(), member(purchase_count=3), NOW)
    assert d.applied_rules == ["w20"] and d.discount_rial == 200
    check_line(lines(d)["w30"], "condition_failed", condition="first_purchase")
    check_line(lines(d)["w10"], "after_first_match", winner="w20")
    d = b.evaluate(purchase(), member(), NOW)
    assert d.applied_rules == ["w30"] and d.discount_rial == 300
    check_line(lines(d)["w20"], "after_first_match", winner="w30")
    check_line(lines(d)["w10"], "after_first_match", winner="w30")


def test_stacking_first_match_equal_priority_keeps_rule_set_order() -> None:
    b = book(
        [rule("first", {"type": "points", "fixed": 1}, stacking_group="welcome"), rule("second", {"type": "points", "fixed": 100}, stacking_group="welcome")],
        stacking_groups=CAMPAIGNS,
    )
    d = b.evaluate(purchase(), member(), NOW)
    assert d.applied_rules == ["first"]
    check_line(lines(d)["second"], "after_first_match", winner="first")


def test_stacking_groups_are_independent_and_default_mode_can_change() -> None:
    rules = [
        rule("base-1", {"type": "points", "fixed": 1}),
        rule("base-2", {"type": "points", "fixed": 2}),
        rule("camp-a", {"type": "discount", "fixed_rial": 1_000}, stacking_group="campaigns"),
        rule("camp-b", {"type": "discount", "fixed_rial": 2_000}, stacking_group="campaigns"),
        rule("welcome-a", {"type": "credit", "kind": "virtual", "fixed_rial": 500}, stacking_group="welcome"),
        rule("welcome-b", {"type": "credit", "kind": "virtual", "fixed_rial": 900}, stacking_group="welcome"),
    ]
    d = book(rules, stacking_groups=CAMPAIGNS).evaluate(purchase(), member(), NOW)
    assert sorted(d.applied_rules) == ["base-1", "base-2", "camp-b", "welcome-a"]
    assert d.points_earned == 3 and d.discount_rial == 2_000
    exclusive_default = [*CAMPAIGNS, {"name": "default", "mode": "exclusive"}]
    d = book(rules, stacking_groups=exclusive_default).evaluate(purchase(), member(), NOW)
    assert sorted(d.applied_rules) == ["base-2", "camp-b", "welcome-a"]
    check_line(lines(d)["base-1"], "lost_to_better_rule", winner="base-2")


# --- budgets -----------------------------------------------------------------------------------

BUDGET_KEY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("per rule total", {"per": "rule", "period": "total", "limit_count": 5}, "r|rule|total"),
    ("per member day", {"per": "member", "period": "day", "limit_count": 5}, "r|member:42|d:{day}"),
    # Months are Jalali: 2026-12-17 is 1405-09-26 (Azar).
    ("per merchant month", {"per": "merchant", "period": "month", "limit_rial": 5}, f"r|merchant:{CAFE}|m:1405-09"),
    ("per rule month", {"per": "rule", "period": "month", "limit_rial": 5}, "r|rule|m:1405-09"),
    ("per member total", {"per": "member", "period": "total", "limit_rial": 5}, "r|member:42|total"),
    ("per merchant day", {"per": "merchant", "period": "day", "limit_count": 5}, f"r|merchant:{CAFE}|d:{{day}}"),
]


@pytest.mark.parametrize(("budget", "key"), [c[1:] for c in BUDGET_KEY_CASES], ids=[c[0] for c in BUDGET_KEY_CASES])
def test_budget_keys(budget: dict[str, Any], key: str) -> None:
    b = book([rule("r", budgets=[budget]), rule("free")])
    assert b.has_budgets
    assert not book([rule("free")]).has_budgets
    expected = key.replace("{day}", str(local_day(NOW)))
    assert b.budget_keys(purchase(), 42, NOW) == [expected]
    d = b.evaluate(purchase(), member(), NOW)
    limit = int(budget.get("limit_count", budget.get("limit_rial", 0)))
    amount = 1 if "limit_count" in budget else 1_000
    if amount <= limit:
        assert d.budget_use == [{"key": expected, "amount": amount, "limit": limit}]


def test_budget_day_key_follows_tehran_midnight() -> None:
    b = book([rule("r", budgets=[{"per": "member", "period": "day", "limit_count": 1}])])
    before, after = at(2026, 12, 17, 23, 59), at(2026, 12, 18, 0, 1)
    assert b.budget_keys(purchase(), 42, before) != b.budget_keys(purchase(), 42, after)
    assert b.budget_keys(purchase(), 42, at(2026, 12, 18, 0, 1)) == b.budget_keys(purchase(), 42, at(2026, 12, 18, 23, 59))


def test_budget_month_is_the_jalali_month() -> None:
    """An Iranian club's monthly budget runs by Jalali month: 1405-09-30 (2026-12-21) and
    1405-10-01 (2026-12-22) are different months; 2026-12-31 and 2027-01-01 (both Dey) the same.
    """
    b = book([rule("r", budgets=[{"per": "rule", "period": "month", "limit_count": 1}])])
    keys = {day: b.budget_keys(purchase(), 42, at(*day)) for day in [(2026, 12, 21), (2026, 12, 22), (2026, 12, 31), (2027, 1, 1)]}
    assert keys[(2026, 12, 21)] != keys[(2026, 12, 22)]
    assert keys[(2026, 12, 31)] == keys[(2027, 1, 1)]


@pytest.mark.parametrize(
    ("budget", "used", "applies"),
    [
        ({"per": "member", "period": "day", "limit_count": 2}, 0, True),
        ({"per": "member", "period": "day", "limit_count": 2}, 1, True),
        ({"per": "member", "period": "day", "limit_count": 2}, 2, False),
        ({"per": "rule", "period": "total", "limit_count": 0}, 0, False),
        # discount 100,000 rial costs 100,000 of a rial budget; all or nothing gives it whole or not at all
        ({"per": "rule", "period": "total", "limit_rial": 150_000, "fill": "all_or_nothing"}, 50_000, True),
        ({"per": "rule", "period": "total", "limit_rial": 150_000, "fill": "all_or_nothing"}, 50_001, False),
        ({"per": "merchant", "period": "month", "limit_rial": 100_000, "fill": "all_or_nothing"}, 0, True),
        ({"per": "merchant", "period": "month", "limit_rial": 99_999, "fill": "all_or_nothing"}, 0, False),
        # partial fill (the default): nothing left is nothing given
        ({"per": "rule", "period": "total", "limit_rial": 150_000}, 150_000, False),
        ({"per": "rule", "period": "total", "limit_rial": 100_000}, 0, True),
    ],
)
def test_budget_exhausted_rule_not_applied(budget: dict[str, Any], used: int, applies: bool) -> None:
    b = book([rule("r", {"type": "discount", "percent_bp": 1000}, budgets=[budget])])
    key = b.budget_keys(purchase(), 42, NOW)[0]
    d = b.evaluate(purchase(), member(budget_used={key: used}), NOW)
    if applies:
        check_line(lines(d)["r"], "applied")
        assert d.discount_rial == 100_000
        is_count = "limit_count" in budget
        assert d.budget_use == [{"key": key, "amount": 1 if is_count else 100_000, "limit": budget.get("limit_count", budget.get("limit_rial"))}]
        after = kimia.apply(member(budget_used={key: used}), d)
        assert after.to_dict()["budget_used"][key] == used + (1 if is_count else 100_000)
    else:
        check_line(lines(d)["r"], "budget_exhausted")
        assert d.discount_rial == 0 and d.budget_use == []


def test_budget_points_cost_uses_point_value() -> None:
    budget = {"per": "rule", "period": "total", "limit_rial": 3_000}
    b = book([rule("r", {"type": "points", "fixed": 30}, budgets=[{**budget, "fill": "all_or_nothing"}])], point_value_rial=100)
    key = "r|rule|total"
    assert b.evaluate(purchase(), member(budget_used={key: 0}), NOW).budget_use == [{"key": key, "amount": 3_000, "limit": 3_000}]
    check_line(lines(b.evaluate(purchase(), member(budget_used={key: 1}), NOW))["r"], "budget_exhausted")
    # Partially filled, 2,999 rials left buy 29 whole points (2,900 rials); 99 rials buy none.
    partial = book([rule("r", {"type": "points", "fixed": 30}, budgets=[budget])], point_value_rial=100)
    d = partial.evaluate(purchase(), member(budget_used={key: 1}), NOW)
    check_line(lines(d)["r"], "budget_partial")
    assert d.points_earned == 29 and d.budget_use == [{"key": key, "amount": 2_900, "limit": 3_000}]
    check_line(lines(partial.evaluate(purchase(), member(budget_used={key: 2_901}), NOW))["r"], "budget_exhausted")


CASHBACK_CAP = {"per": "rule", "period": "month", "limit_rial": 200_000}


def test_budget_partial_fill_gives_what_is_left_of_a_monthly_cap() -> None:
    """Issue 12 item 11: 180,000 of a 200,000 monthly cashback cap used, a 40,000 reward gives 20,000."""
    b = book([rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 400}, budgets=[CASHBACK_CAP])])
    key = b.budget_keys(purchase(), 42, NOW)[0]
    m = member(budget_used={key: 180_000})
    d = b.evaluate(purchase(amount_rial=1_000_000), m, NOW)
    assert lines(d)["cb"]["credit_rial"] == 20_000
    assert d.budget_use == [{"key": key, "amount": 20_000, "limit": 200_000}]
    check_line(lines(d)["cb"], "budget_partial")
    assert d.explain("en") == ["Rule cb: 20,000 rials of credit, all that was left of its budget"]
    assert d.explain("fa") == ["قانون cb: ۲۰٬۰۰۰ ریال اعتبار، یعنی همهٔ باقی‌ماندهٔ بودجهٔ این طرح"]
    assert d.explain("fa", applied_only=True) == d.explain("fa")
    after = kimia.apply(m, d)
    assert after.to_dict()["budget_used"][key] == 200_000
    assert after.balance("member:42/cashback") == 20_000
    # The cap is now used up: the next purchase gets nothing.
    check_line(lines(b.evaluate(purchase(op_id=2, amount_rial=1_000_000), after, NOW + 60))["cb"], "budget_exhausted")


def test_budget_all_or_nothing_is_kept_on_request() -> None:
    b = book([rule("cb", {"type": "credit", "kind": "cashback", "percent_bp": 400}, budgets=[{**CASHBACK_CAP, "fill": "all_or_nothing"}])])
    key = b.budget_keys(purchase(), 42, NOW)[0]
    d = b.evaluate(purchase(amount_rial=1_000_000), member(budget_used={key: 180_000}), NOW)
    check_line(lines(d)["cb"], "budget_exhausted")
    assert d.budget_use == [] and d.lots_created == []


def test_budget_partial_fill_scales_every_costed_part_and_keeps_the_lowest_room() -> None:
    """A discount plus points, under two partial budgets: the tighter one decides, each part is
    scaled down in proportion and floored, and the cost stays within the room."""
    effects = [{"type": "discount", "fixed_rial": 60_000}, {"type": "points", "fixed": 400}]
    budgets = [{"per": "rule", "period": "total", "limit_rial": 1_000_000}, {"per": "member", "period": "day", "limit_rial": 50_000}]
    b = book([rule("r", *effects, budgets=budgets)], point_value_rial=100)
    d = b.evaluate(purchase(), member(), NOW)
    # Cost 60,000 + 400 × 100 = 100,000; room 50,000: half of each.
    assert (d.discount_rial, d.points_earned) == (30_000, 200)
    assert [u["amount"] for u in d.budget_use] == [50_000, 50_000]
    kimia.apply(member(), d)


def test_budget_partial_credit_spend_discount_is_capped_when_known() -> None:
    b = book([rule("pwc", {"type": "credit_spend_discount", "percent_bp": 1000}, budgets=[{"per": "rule", "period": "total", "limit_rial": 5_000}])])
    wallet = holding(lot("0:0", "member:42/virtual_credit", 100_000))
    d = b.evaluate(purchase(redeem_credit_rial=100_000), wallet, NOW)
    assert d.discount_rial == 5_000 and d.budget_use[0]["amount"] == 5_000
    check_line(lines(d)["pwc"], "budget_partial")
    # With room for all of it, it is given whole.
    d = b.evaluate(purchase(redeem_credit_rial=40_000), wallet, NOW)
    assert d.discount_rial == 4_000
    check_line(lines(d)["pwc"], "applied")


def test_budget_fill_is_for_rial_budgets_only() -> None:
    e = rejected("rule_bad_value", lambda: book([rule("r", budgets=[{"per": "rule", "period": "day", "limit_count": 1, "fill": "partial"}])]))
    assert e.path == "rules[0].budgets[0].fill"


def test_budget_count_per_member_per_day_through_applied_decisions() -> None:
    b = book([rule("twice-a-day", {"type": "discount", "fixed_rial": 5_000}, budgets=[{"per": "member", "period": "day", "limit_count": 2}])])
    m = kimia.Member(member())
    given = []
    for n, now in enumerate([NOW, NOW + 60, NOW + 120, NOW + DAY, NOW + DAY + 60, NOW + DAY + 120]):
        d = b.evaluate(purchase(op_id=n + 1), m, now)
        given.append(d.discount_rial)
        m = kimia.apply(m, d)
    assert given == [5_000, 5_000, 0, 5_000, 5_000, 0]


def test_budget_exhausted_in_exclusive_group_lets_the_next_best_win() -> None:
    b = book(
        [
            rule("best", {"type": "discount", "fixed_rial": 90_000}, stacking_group="campaigns", budgets=[{"per": "rule", "period": "total", "limit_count": 1}]),
            rule("next", {"type": "discount", "fixed_rial": 40_000}, stacking_group="campaigns"),
        ],
        stacking_groups=CAMPAIGNS,
    )
    d = b.evaluate(purchase(), member(budget_used={"best|rule|total": 1}), NOW)
    assert d.applied_rules == ["next"]
    check_line(lines(d)["best"], "budget_exhausted")


def test_budget_apply_rejects_a_decision_over_the_limit() -> None:
    """A decision made on stale budget use is refused when written: nothing changes."""
    b = book([rule("r", {"type": "discount", "fixed_rial": 5_000}, budgets=[{"per": "rule", "period": "total", "limit_count": 3}])])
    d = b.evaluate(purchase(), member(budget_used={"r|rule|total": 2}), NOW)
    assert d.budget_use == [{"key": "r|rule|total", "amount": 1, "limit": 3}]
    kimia.apply(member(budget_used={"r|rule|total": 2}), d)
    e = rejected("budget_exhausted", lambda: kimia.apply(member(budget_used={"r|rule|total": 3}), d))
    assert isinstance(e, kimia.Rejected)
    assert e.params == {"rule": "r", "budget": "r|rule|total"} and "r" in e.message_en and "r" in e.message_fa
    assert e.path == "budget_use[0]"


def test_budget_rial_limit_holds_with_credit_spend_discount() -> None:
    """A rial budget caps a credit-spend discount too: evaluate must not produce a decision whose
    budget use exceeds the limit (which apply then rejects, failing the whole purchase)."""
    b = book([rule("pwc", {"type": "credit_spend_discount", "percent_bp": 1000}, budgets=[{"per": "rule", "period": "total", "limit_rial": 5_000}])])
    wallet = holding(lot("0:0", "member:42/virtual_credit", 100_000))
    d = b.evaluate(purchase(redeem_credit_rial=100_000), wallet, NOW)
    for use in d.budget_use:
        assert use["amount"] <= use["limit"], d.budget_use
    kimia.apply(wallet, d)


def test_budget_reversal_gives_budget_back() -> None:
    b = book([rule("r", {"type": "discount", "fixed_rial": 50_000}, budgets=[{"per": "rule", "period": "total", "limit_rial": 100_000}])])
    m0 = kimia.Member(member())
    d = b.evaluate(purchase(), m0, NOW)
    m1 = kimia.apply(m0, d)
    assert m1.to_dict()["budget_used"] == {"r|rule|total": 50_000}
    refund = kimia.reverse(d, m1, op_id=2, now=NOW + 60, refund_rial=400_000)
    assert refund.budget_use == [{"key": "r|rule|total", "amount": -20_000, "limit": 100_000}]
    m2 = kimia.apply(m1, refund)
    rest = kimia.reverse(d, m2, op_id=3, now=NOW + 120, refunded_before_rial=400_000)
    m3 = kimia.apply(m2, rest)
    assert m3.to_dict()["budget_used"] == {"r|rule|total": 0}


# --- explanations ------------------------------------------------------------------------------


def test_explanation_every_code_in_both_languages() -> None:
    """One purchase that produces every explanation code, each with readable en/fa messages."""
    b = book(
        [
            rule("applied", {"type": "discount", "fixed_rial": 12_345}),
            rule("scope", scope={"branches": [99]}),
            rule("validity", valid_to=NOW - 1),
            rule("condition", conditions=[{"type": "amount", "min": 5_000_000}]),
            rule("loser", {"type": "discount", "fixed_rial": 1}, stacking_group="campaigns"),
            rule("winner", {"type": "discount", "fixed_rial": 2}, stacking_group="campaigns"),
            rule("first", {"type": "points", "fixed": 1}, stacking_group="welcome", priority=1),
            rule("skipped", {"type": "points", "fixed": 2}, stacking_group="welcome"),
            rule("budget", budgets=[{"per": "rule", "period": "total", "limit_count": 0}]),
            rule("nothing", {"type": "lottery", "lottery_id": 1, "per_rial": 10_000_000, "entries": 1}),
            rule("partial", {"type": "discount", "fixed_rial": 10_000}, budgets=[{"per": "rule", "period": "total", "limit_rial": 4_000}]),
        ],
        stacking_groups=CAMPAIGNS,
    )
    d = b.evaluate(purchase(), member(), NOW)
    by_rule = lines(d)
    check_line(by_rule["partial"], "budget_partial")
    assert by_rule["partial"]["discount_rial"] == 4_000
    check_line(by_rule["applied"], "applied")
    check_line(by_rule["scope"], "not_in_scope")
    check_line(by_rule["validity"], "outside_validity")
    check_line(by_rule["condition"], "condition_failed", condition="amount")
    check_line(by_rule["loser"], "lost_to_better_rule", winner="winner")
    check_line(by_rule["winner"], "applied")
    check_line(by_rule["first"], "applied")
    check_line(by_rule["skipped"], "after_first_match", winner="first")
    check_line(by_rule["budget"], "budget_exhausted")
    check_line(by_rule["nothing"], "nothing_to_give")
    all_codes = {code for code, _, _ in kimia.explanation_codes()[0]}
    assert set(codes(d).values()) == all_codes
    applied = by_rule["applied"]
    assert applied["message_en"] == "Rule applied: 12,345 rials off"
    assert applied["message_fa"] == "قانون applied: ۱۲٬۳۴۵ ریال تخفیف"


def test_explanation_persian_names_and_digits() -> None:
    b = book([{"id": "yalda", "name": {"en": "Yalda 10% off", "fa": "یلدا ۱۰٪ تخفیف"}, "effects": [{"type": "discount", "percent_bp": 1000}]}])
    d = b.evaluate(purchase(amount_rial=2_500_000), member(), NOW)
    assert d.explain("fa") == ["یلدا ۱۰٪ تخفیف: ۲۵۰٬۰۰۰ ریال تخفیف"]
    assert d.explain("en") == ["Yalda 10% off: 250,000 rials off"]
    assert d.explain() == d.explain("fa")


def test_explanation_combined_effects_and_applied_only() -> None:
    b = book(
        [
            rule("all", {"type": "discount", "fixed_rial": 1_000}, {"type": "points", "fixed": 20}, {"type": "credit", "kind": "virtual", "fixed_rial": 3_000}, {"type": "lottery", "lottery_id": 2, "fixed": 4}),
            rule("referral", {"type": "referral", "fixed": 7}),
            rule("never", conditions=[{"type": "channel", "channels": ["web"]}]),
        ]
    )
    d = b.evaluate(purchase(), member(referrer_id=9), NOW)
    en = lines(d)["all"]["message_en"]
    assert en == "Rule all: 1,000 rials off, 20 points, 3,000 rials of credit, 4 lottery entries"
    assert lines(d)["all"]["message_fa"] == "قانون all: ۱٬۰۰۰ ریال تخفیف، ۲۰ امتیاز، ۳٬۰۰۰ ریال اعتبار، ۴ شانس قرعه‌کشی"
    check_line(lines(d)["referral"], "applied")
    assert "7 points for the member who introduced you" in lines(d)["referral"]["message_en"]
    assert "۷ امتیاز برای معرف شما" in lines(d)["referral"]["message_fa"]
    assert len(d.explain("en", applied_only=True)) == 2
    assert len(d.explain("en")) == 3


LATIN_OR_ASCII_DIGIT = re.compile(r"[A-Za-z0-9]")


def _persian(rule_id: str, fa: str, *effects: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**rule(rule_id, *effects, **fields), "name": {"en": rule_id, "fa": fa}}


def test_explanation_persian_reads_as_a_receipt() -> None:
    """Issue 12 item 13: every Persian line a member may read, of rules named in Persian, holds no
    Latin letter and no Latin digit; amounts have the Persian thousands separator; the nth-purchase
    line says the number as a Persian ordinal."""
    b = book(
        [
            _persian("big", "تخفیف بزرگ", {"type": "discount", "fixed_rial": 150_000}, {"type": "points", "fixed": 1_200},
                     {"type": "credit", "kind": "cashback", "fixed_rial": 25_000}, {"type": "lottery", "lottery_id": 1, "fixed": 2}),
            _persian("ref", "معرفی دوستان", {"type": "referral", "fixed": 1_500}),
            _persian("voucher", "هدیهٔ تولد", {"type": "voucher", "template_id": 3}),
            _persian("scope", "ویژهٔ شعبهٔ مرکزی", scope={"branches": [99]}),
            _persian("validity", "جشنوارهٔ پارسال", valid_to=NOW - 1),
            _persian("sixth", "ششمین خرید", conditions=[{"type": "nth_purchase", "n": 6}]),
            _persian("twenty-first", "بیست و یکمین خرید", conditions=[{"type": "nth_purchase", "n": 21, "at_merchant": True}]),
            _persian("loser", "تخفیف کوچک", {"type": "discount", "fixed_rial": 1}, stacking_group="campaigns"),
            _persian("winner", "تخفیف بهتر", {"type": "discount", "fixed_rial": 2}, stacking_group="campaigns"),
            _persian("first", "خوش‌آمد", {"type": "points", "fixed": 1}, stacking_group="welcome", priority=1),
            _persian("skipped", "خوش‌آمد دوم", {"type": "points", "fixed": 2}, stacking_group="welcome"),
            _persian("budget", "بودجهٔ تمام‌شده", budgets=[{"per": "rule", "period": "total", "limit_count": 0}]),
            _persian("partial", "سقف ماهانه", {"type": "credit", "kind": "cashback", "fixed_rial": 40_000},
                     budgets=[{"per": "rule", "period": "month", "limit_rial": 200_000}]),
            _persian("nothing", "قرعه‌کشی بزرگ", {"type": "lottery", "lottery_id": 1, "per_rial": 10_000_000, "entries": 1}),
            *[_persian(f"c{i}", f"شرط {i}", conditions=[c]) for i, c in enumerate(FAILING_CONDITIONS)],
        ],
        stacking_groups=CAMPAIGNS,
    )
    partial_key = b.budget_keys(purchase(), 42, NOW)
    used = {k: 180_000 for k in partial_key if k.startswith("partial|")}
    d = b.evaluate(purchase(amount_rial=1_000_000, redeem_credit_rial=0), member(purchase_count=1, referrer_id=7, budget_used=used), NOW)
    seen = set()
    for line in d.explanation:
        seen.add(line["code"])
        fa = line["message_fa"]
        assert not LATIN_OR_ASCII_DIGIT.search(fa), fa
        assert "قانون" not in fa and "اعمال شد:" not in fa, fa
    assert seen == {code for code, _, _ in kimia.explanation_codes()[0]}
    by_rule = lines(d)
    assert by_rule["big"]["message_fa"] == "تخفیف بزرگ: ۱۵۰٬۰۰۰ ریال تخفیف، ۱٬۲۰۰ امتیاز، ۲۵٬۰۰۰ ریال اعتبار، ۲ شانس قرعه‌کشی"
    assert by_rule["big"]["message_en"] == "big: 150,000 rials off, 1,200 points, 25,000 rials of credit, 2 lottery entries"
    assert by_rule["sixth"]["message_fa"] == "طرح «ششمین خرید» شامل این خرید نمی‌شود: فقط هر ششمین خرید شامل آن می‌شود"
    assert by_rule["sixth"]["message_en"] == '"sixth" does not apply: only every 6th purchase gets it'
    assert "هر بیست و یکمین خرید" in by_rule["twenty-first"]["message_fa"]
    assert by_rule["partial"]["message_fa"] == "سقف ماهانه: ۲۰٬۰۰۰ ریال اعتبار، یعنی همهٔ باقی‌ماندهٔ بودجهٔ این طرح"
    assert by_rule["voucher"]["message_fa"] == "هدیهٔ تولد: یک ووچر"


# One condition of every kind that fails for the purchase and member of the test above.
FAILING_CONDITIONS: list[dict[str, Any]] = [
    {"type": "merchant", "ids": [1]},
    {"type": "merchant_group", "ids": [1]},
    {"type": "branch", "ids": [1]},
    {"type": "club", "ids": [999]},
    {"type": "goods", "ids": ["x"]},
    {"type": "goods_group", "ids": ["x"]},
    {"type": "member_group", "ids": [1]},
    {"type": "tier", "names": ["gold"]},
    {"type": "days_since_last_purchase", "min": 1},
    {"type": "spend_in_window", "days": 30, "min": 1},
    {"type": "purchases_in_window", "days": 30, "min": 1},
    {"type": "points_held", "min": 1},
    {"type": "date_range", "from": "2030-01-01", "to": None},
    {"type": "hour_range", "from": "03:00", "to": "04:00"},
    {"type": "weekdays", "days": []},
    {"type": "amount", "min": 5_000_000},
    {"type": "first_purchase"},
    {"type": "payment_method", "methods": ["credit"]},
    {"type": "channel", "channels": ["web"]},
    {"type": "all", "of": [{"type": "first_purchase"}]},
    {"type": "any", "of": [{"type": "first_purchase"}]},
    {"type": "not", "of": {"type": "amount", "min": 1}},
]


def test_explanation_can_be_skipped() -> None:
    b = book([rule("a"), rule("b", conditions=[{"type": "first_purchase"}])])
    quiet = b.evaluate(purchase(), member(purchase_count=1), NOW, explain=False)
    loud = b.evaluate(purchase(), member(purchase_count=1), NOW)
    assert quiet.explanation == [] and quiet.explain() == []
    assert quiet.applied_rules == loud.applied_rules == ["a"]
    assert {k: v for k, v in quiet.to_dict().items() if k != "explanation"} == {k: v for k, v in loud.to_dict().items() if k != "explanation"}


def test_explanation_vouchers_issued_by_rule() -> None:
    b = book([rule("gift", {"type": "voucher", "template_id": 77})])
    d = b.evaluate(purchase(merchant_id=BAKERY), member(), NOW)
    assert d.vouchers_issued == [{"template_id": 77, "rule_id": "gift"}]
    check_line(lines(d)["gift"], "applied")
    assert lines(d)["gift"]["message_en"].endswith("a voucher")
    assert lines(d)["gift"]["message_fa"].endswith("ووچر")


def test_backtest_runs_budgets_down_with_partial_fill() -> None:
    """A backtest agrees with live purchases: a rule budget of 250,000 over four 100,000 discounts
    gives 100,000, 100,000, 50,000 (what was left) and nothing; a member budget is not counted."""
    cap = {"per": "rule", "period": "total", "limit_rial": 250_000}
    b = book([rule("r", {"type": "discount", "fixed_rial": 100_000}, budgets=[cap]),
              rule("m", {"type": "points", "fixed": 1}, budgets=[{"per": "member", "period": "total", "limit_count": 1}])])
    totals = b.backtest(merchant_id=[CAFE] * 4, amount_rial=[1_000_000] * 4, at=[NOW + i * 60 for i in range(4)])
    assert totals["discount_rial"] == 250_000
    assert totals["per_rule"]["r"] == {"uses": 3, "discount_rial": 250_000, "points": 0, "credit_rial": 0}
    assert totals["per_rule"]["m"]["uses"] == 4
    # The same purchases decided one by one, applying each decision, give the same discounts.
    m = kimia.Member(member())
    live = []
    for i in range(4):
        d = b.evaluate(purchase(op_id=i + 1), m, NOW + i * 60)
        live.append(d.discount_rial)
        m = kimia.apply(m, d)
    assert live == [100_000, 100_000, 50_000, 0]
