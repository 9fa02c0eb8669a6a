"""``Decision.receipt``: the receipt a purchase is answered with, as a dict and as the JSON text the
service stores for retries (built once in the core, the same content both ways)."""

from __future__ import annotations

import json

import kimia

from .helpers import MEMBER, at, book, member, purchase, rule

#: The member as the decision finds them: 20 points and 3,000 rials of cashback (the decision
#: below earns 100 points, so the receipt shows 120 and 3,000).
BEFORE = member(accounts=[{"account": f"member:{MEMBER}/points", "balance": 20}, {"account": f"member:{MEMBER}/cashback", "balance": 3_000}])

NOW = at(2026, 12, 17, 11)


def decided() -> kimia.Decision:
    b = book([rule("pts", {"type": "points", "per_rial": 10_000, "points": 1}), rule("off", {"type": "discount", "fixed_rial": 1_000})])
    return b.evaluate(purchase(op_id=5, amount_rial=1_000_000), member(), NOW)


def test_dict_and_json_agree_field_for_field_in_order() -> None:
    d = decided()
    receipt, text = d.receipt(5, BEFORE, "done", [("rrn", "000000000005"), ("transmission", "1217113000")])
    assert json.loads(text) == receipt
    assert list(receipt) == list(json.loads(text))
    assert list(receipt)[:3] == ["op_id", "status", "kind"]
    assert list(receipt)[-2:] == ["rrn", "transmission"]
    assert receipt["member_id"] == MEMBER
    assert receipt["amount_rial"] == 1_000_000
    assert receipt["discount_rial"] == 1_000
    assert receipt["payable_rial"] == 999_000
    assert receipt["points_earned"] == 100
    assert receipt["applied_rules"] == ["pts", "off"]
    assert (receipt["balance_points"], receipt["balance_credit_rial"]) == (120, 3_000)
    # Only the rules that gave something are explained, in both languages; Persian digits in Persian.
    assert len(receipt["explanation_fa"]) == len(receipt["explanation_en"]) == 2
    assert "۱۰۰" in receipt["explanation_fa"][0]
    assert "100" in receipt["explanation_en"][0]


def test_status_defaults_to_done_and_extra_to_nothing() -> None:
    receipt, text = decided().receipt(5, member())
    assert receipt["status"] == "done"
    assert list(receipt)[-1] == "explanation_en"
    assert "۱" in text  # stored as UTF-8 text, not \\u escapes
