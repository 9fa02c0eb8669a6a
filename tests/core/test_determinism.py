"""Determinism, the JSON round trip of decisions, and evaluation from several threads at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import kimia
from kimia.samples import demo_rules

from .helpers import CAFE, DAY, at, book, holding, lot, member, purchase, rule

NOW = at(2026, 12, 17, 16, 30)
DEMO = kimia.Rulebook(demo_rules())


def _demo_purchase(n: int) -> dict[str, Any]:
    basket = [
        {"goods_id": "beans-1kg", "group": "coffee-beans", "quantity": 1, "amount_rial": 900_000 + n},
        {"goods_id": "cup", "group": "merch", "quantity": 2, "amount_rial": 300_000},
    ]
    return {
        "op_id": n + 1,
        "club_id": 1,
        "merchant_id": 101 + n % 3,
        "merchant_groups": [10] if n % 2 else [],
        "marketer_id": 3 if n % 5 else None,
        "enrolling_merchant_id": 102 if n % 7 == 0 else None,
        "business_type": "restaurant" if n % 4 == 0 else None,
        "amount_rial": 1_200_000 + n,
        "basket": basket if n % 3 == 0 else [],
        "redeem_credit_rial": 20_000 if n % 2 else 0,
        "channel": "pcpos" if n % 3 == 0 else "pos",
    }


def _demo_member(n: int) -> dict[str, Any]:
    return holding(
        lot("0:0", "member:42/club_credit@set:1", 50_000, NOW + 400 * DAY),
        lot("0:1", "member:42/points", 700),
        tier=["silver", "gold", None][n % 3],
        referrer_id=7 if n % 2 else None,
        purchase_count=n % 6,
        history=[{"day": 20_000, "count": 2, "spend_rial": 3_000_000}],
    )


def _at(n: int) -> int:
    return NOW + (n % 48) * 3_600 + n * DAY // 5


def test_same_inputs_same_decision() -> None:
    for n in range(40):
        first = DEMO.evaluate(_demo_purchase(n), _demo_member(n), _at(n))
        again = DEMO.evaluate(_demo_purchase(n), kimia.Member(_demo_member(n)), _at(n))
        recompiled = kimia.Rulebook(json.dumps(demo_rules())).evaluate(_demo_purchase(n), _demo_member(n), _at(n))
        assert first.to_dict() == again.to_dict() == recompiled.to_dict()
        assert first.to_json() == again.to_json()
        assert first.explanation == again.explanation


def test_same_operations_same_decisions() -> None:
    m = kimia.Member(_demo_member(1))
    d = DEMO.evaluate(_demo_purchase(1), m, NOW)
    makers: list[Callable[[], kimia.Decision]] = [
        lambda: kimia.reverse(d, kimia.apply(m, d), op_id=9, now=NOW + 1, refund_rial=100_000),
        lambda: kimia.convert_points({"club_id": 1, "default": {"points": 10, "rial": 100}}, m, op_id=9, now=NOW, points=300),
        lambda: kimia.expire(1, m, op_id=9, now=NOW + 401 * DAY),
        lambda: kimia.charge(m, op_id=9, now=NOW, account="member:42/gift_credit", amount=5_000, source={"type": "cash"}, expires_days=3),
        lambda: kimia.buy_voucher(1, {"template_id": 2, "points": 100}, m, op_id=9, now=NOW),
        lambda: kimia.hold(d),
    ]
    for make in makers:
        assert make().to_dict() == make().to_dict()


def _decisions() -> list[kimia.Decision]:
    m0 = kimia.Member(_demo_member(1))
    d = DEMO.evaluate(_demo_purchase(1), m0, NOW)
    m1 = kimia.apply(m0, d)
    refund = kimia.reverse(d, m1, op_id=20, now=NOW + 60, refund_rial=300_000)
    rest = kimia.reverse(d, kimia.apply(m1, refund), op_id=21, now=NOW + 120, refunded_before_rial=300_000)
    vouchers = book([rule("v", {"type": "voucher", "template_id": 5})]).evaluate(
        purchase(voucher_code="A"), member(vouchers=[{"code": "A", "discount_bp": 1000, "cap_rial": 5, "funder": "marketer"}]), NOW
    )
    return [
        d,
        refund,
        rest,
        vouchers,
        kimia.convert_points({"club_id": 1, "default": {"points": 10, "rial": 100}, "expires_days": 5}, m1, op_id=22, now=NOW, points=100),
        kimia.buy_voucher(1, {"template_id": 2, "points": 100}, m1, op_id=23, now=NOW),
        kimia.charge(m1, op_id=24, now=NOW, account="member:42/welfare_credit", amount=10_000, source={"type": "org", "id": 4}, expires_days=30),
        kimia.adjust(1, m1, op_id=25, now=NOW, account="member:42/points", delta=-50),
        kimia.adjust(1, m1, op_id=26, now=NOW, account="member:42/lottery_entries@lottery:1", delta=3),
        kimia.expire(1, m1, op_id=27, now=NOW + 400 * DAY),
        kimia.hold(d),
        kimia.complete_hold(d, op_id=28, now=NOW + 5),
        kimia.cancel_hold(kimia.hold(d), op_id=29, now=NOW + 5),
    ]


@pytest.mark.parametrize("index", range(13))
def test_json_round_trip(index: int) -> None:
    d = _decisions()[index]
    assert d.is_balanced()
    text = d.to_json()
    back = kimia.Decision.from_json(text)
    assert back.to_dict() == d.to_dict()
    assert back.to_json() == text
    assert json.loads(text) == d.to_dict()
    assert back.explain("fa") == d.explain("fa") and back.explain("en") == d.explain("en")
    assert back.deltas == d.deltas and back.kind == d.kind and back.is_balanced()


def test_decision_properties_match_to_dict() -> None:
    d = _decisions()[0]
    data = d.to_dict()
    for name in ("kind", "op_id", "member_id", "merchant_id", "now", "amount_rial", "discount_rial", "credit_used_rial", "payable_rial",
                 "points_earned", "postings", "lots_created", "lots_consumed", "split", "lottery_entries", "vouchers_issued",
                 "voucher_used", "voucher_restored", "budget_use", "counters", "applied_rules"):  # fmt: skip
        assert getattr(d, name) == data[name], name
    assert [{k: v for k, v in line.items() if not k.startswith("message_")} for line in d.explanation] == data["explanation"]
    assert d.merchant_id in (CAFE, 102, 103)


def test_member_round_trip() -> None:
    m = kimia.apply(kimia.Member(_demo_member(1)), _decisions()[0])
    assert kimia.Member(m.to_dict()).to_dict() == m.to_dict()
    assert kimia.Member(json.loads(json.dumps(m.to_dict()))).to_dict() == m.to_dict()


def test_evaluate_from_threads_matches_sequential() -> None:
    """One Rulebook shared by 4 threads (the GIL is released while deciding) gives exactly the
    decisions it gives when called from one thread."""
    jobs = [(_demo_purchase(n), _demo_member(n), _at(n)) for n in range(400)]
    sequential = [DEMO.evaluate(p, m, t).to_json() for p, m, t in jobs]
    start = threading.Barrier(4)

    def work(chunk: int) -> list[tuple[int, str]]:
        start.wait()
        out = []
        for _ in range(3):
            for i in range(chunk, len(jobs), 4):
                p, m, t = jobs[i]
                out.append((i, DEMO.evaluate(p, m, t).to_json()))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [r for chunk in pool.map(work, range(4)) for r in chunk]
    assert len(results) == 3 * len(jobs)
    for i, text in results:
        assert text == sequential[i], i


def test_apply_from_threads_matches_sequential() -> None:
    members = [kimia.Member(_demo_member(n)) for n in range(100)]
    decisions = [DEMO.evaluate(_demo_purchase(n), members[n], _at(n)) for n in range(100)]
    sequential = [kimia.apply(m, d).to_dict() for m, d in zip(members, decisions)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda pair: kimia.apply(*pair).to_dict(), zip(members, decisions)))
    assert parallel == sequential
