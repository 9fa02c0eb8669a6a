"""The bulk purchase path's helpers in the core: ``batch_rows`` (decisions → rows per table),
``Member.with_facts``, the balances a receipt shows, and the reader of Python input."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

import kimia

from .helpers import CAFE, CLUB, MEMBER, at, book, holding, local_day, lot, member, purchase, rule

NOW = at(2026, 12, 17, 11)
CREDIT = f"member:{MEMBER}/cashback"


def rulebook() -> kimia.Rulebook:
    return book(
        [
            rule("pts", {"type": "points", "per_rial": 10_000, "points": 1}),
            rule("cash", {"type": "credit", "kind": "cashback", "percent_bp": 500, "expires_days": 30}, budgets=[{"per": "rule", "period": "total", "limit_count": 10}]),
            rule("off", {"type": "discount", "fixed_rial": 1_000}),
        ]
    )


def decide_two() -> list[kimia.Decision]:
    b = rulebook()
    first = b.evaluate(purchase(op_id=1, amount_rial=1_000_000), member(), NOW)
    after = kimia.apply(member(), first)
    second = b.evaluate(purchase(op_id=2, amount_rial=400_000), after, NOW + 60)
    return [first, second]


def test_batch_rows_match_the_decisions() -> None:
    decisions = decide_two()
    rows = kimia.batch_rows([(d, CLUB, 7) for d in decisions], NOW)

    # Two journal legs per posting, each leg in the club of its account, every unit balanced.
    assert len(rows["legs"]) == 2 * sum(len(d.postings) for d in decisions)
    per_op_unit: dict[tuple[int, str], int] = defaultdict(int)
    for club, op_id, _seq, account, amount, unit, memo, created_at in rows["legs"]:
        assert club == (7 if account.startswith(("member:", "group:")) else CLUB)
        assert created_at == NOW and len(memo) <= 120
        per_op_unit[(op_id, unit)] += amount
    assert set(per_op_unit.values()) == {0}

    # Balances are the deltas of both decisions summed per account, zeros left out.
    expected: dict[str, int] = defaultdict(int)
    for d in decisions:
        for account, delta in d.deltas:
            expected[account] += delta
    assert {account: delta for _, account, _, delta in rows["balances"]} == {a: v for a, v in expected.items() if v}
    assert all(owner == account.split("/")[0] for _, account, owner, _ in rows["balances"])

    assert rows["counters"] == [(2, sum(d.points_earned for d in decisions), NOW + 60, MEMBER)]
    assert rows["days"] == [(MEMBER, local_day(NOW), 2, 1_400_000)]
    assert rows["visits"] == [(MEMBER, CAFE, 2)]
    assert rows["budgets"] == [(CLUB, "cash|rule|total", 2, 10)]
    created = [lot for d in decisions for lot in d.lots_created]
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in rows["lots_created"]] == [(c["id"], 7, c["account"], c["remaining"], c["remaining"]) for c in created]
    assert rows["lots_consumed"] == []
    assert sorted(r[:5] for r in rows["splits"]) == sorted(
        (CLUB, d.op_id, leg["role"], leg["beneficiary_id"], leg["amount_rial"]) for d in decisions for leg in d.split
    )


def test_batch_rows_of_a_redemption_draw_lots() -> None:
    snapshot = holding(lot("L1", CREDIT, 30_000, expires_at=NOW + 86_400))
    d = rulebook().evaluate(purchase(redeem_credit_rial=20_000), snapshot, NOW)
    rows = kimia.batch_rows([(d, CLUB, CLUB)], NOW)
    assert rows["lots_consumed"] == [(20_000, "L1", CLUB)]


def test_batch_rows_sum_the_draws_of_one_lot() -> None:
    # Two purchases of one member in one batch both draw from L1: one row for L1, with the sum,
    # so that one UPDATE checks and takes both draws.
    snapshot = holding(lot("L1", CREDIT, 30_000, expires_at=NOW + 86_400), lot("L2", CREDIT, 5_000, expires_at=NOW + 2 * 86_400))
    first = rulebook().evaluate(purchase(op_id=1, redeem_credit_rial=20_000), snapshot, NOW)
    second = rulebook().evaluate(purchase(op_id=2, redeem_credit_rial=12_000), kimia.apply(snapshot, first), NOW)
    rows = kimia.batch_rows([(first, CLUB, CLUB), (second, CLUB, CLUB)], NOW)
    assert rows["lots_consumed"] == [(30_000, "L1", CLUB), (2_000, "L2", CLUB)]


def test_batch_rows_of_nothing() -> None:
    assert all(v == [] for v in kimia.batch_rows([], NOW).values())


def test_with_facts_replaces_only_what_it_is_given() -> None:
    m = kimia.Member(member(merchant_purchase_count=3, budget_used={"a": 1}))
    same = m.with_facts()
    assert same.to_dict()["merchant_purchase_count"] == 3 and same.to_dict()["budget_used"] == {"a": 1}
    changed = m.with_facts(merchant_purchase_count=0, budget_used={}, vouchers=[])
    assert changed.to_dict()["merchant_purchase_count"] == 0 and changed.to_dict()["budget_used"] == {}
    assert m.to_dict()["merchant_purchase_count"] == 3  # the original is frozen
    with pytest.raises(kimia.Rejected) as err:
        m.with_facts(vouchers=[{"code": 5}])
    assert err.value.code == "invalid_input"


def test_receipt_balances_count_the_members_spendable_credit() -> None:
    nothing = book([]).evaluate(purchase(op_id=3, amount_rial=10_000), member(), NOW)
    m = kimia.Member(
        member(
            shared_group_id=9,
            accounts=[
                {"account": f"member:{MEMBER}/points", "balance": 120},
                {"account": CREDIT, "balance": 5_000},
                {"account": "group:9/gift_credit", "balance": 2_000},
                {"account": f"member:{MEMBER}/credit_line", "balance": -300, "credit_limit": 1_000},
                {"account": f"member:{MEMBER}/points_debt", "balance": -10},
            ],
        )
    )
    receipt, _ = nothing.receipt(3, m)
    assert (receipt["balance_points"], receipt["balance_credit_rial"]) == (120, 7_000)


BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("text amount", purchase(amount_rial="1000"), "amount_rial"),
    ("bool amount", purchase(amount_rial=True), "amount_rial"),
    ("float amount", purchase(amount_rial=1.5), "amount_rial"),
    ("unknown channel", purchase(channel="fax"), "channel"),
    ("basket line not a map", purchase(basket=[5]), "basket[0]"),
    ("object in place of a list", purchase(merchant_groups={"a": 1}), "merchant_groups"),
    ("huge int", purchase(amount_rial=10**30), "amount_rial"),
]


@pytest.mark.parametrize(("data", "path"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_python_input_names_its_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(kimia.Rejected) as err:
        rulebook().evaluate(data, member(), NOW)
    assert err.value.code == "invalid_input"
    assert err.value.path == path


def test_python_input_forms() -> None:
    """Tuples read as lists, enums by name, None as absent, any Mapping as a dict."""
    from types import MappingProxyType

    b = rulebook()
    as_list = b.evaluate(purchase(merchant_groups=[10], channel="pos", branch_id=None), member(), NOW)
    as_tuple = b.evaluate(MappingProxyType(purchase(merchant_groups=(10,), channel="pos")), member(), NOW)  # type: ignore[arg-type]
    assert as_list.to_json() == as_tuple.to_json()
