"""Budgets through the service (issue 12 item 11): a partially filled rial budget records the part
given, on the single purchase path and on the bulk one, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from .builders import World, scalar
from .test_async_and_bulk import _one_batch

CAP = 50_000
KEY = "cashback-capped|rule|total"


def _publish(world: World) -> None:
    world.publish([{
        "id": "cashback-capped",
        "name": {"en": "Cashback, 50,000 in all", "fa": "بازگشت وجه، روی هم ۵۰٬۰۰۰ ریال"},
        "effects": [{"type": "credit", "kind": "cashback", "percent_bp": 1_000}],
        "budgets": [{"per": "rule", "period": "total", "limit_rial": CAP}],
    }])


def _cashback(answer: dict[str, Any]) -> list[str]:
    return [line for line in answer["explanation_fa"] if "بازگشت وجه" in line]


def test_a_partial_budget_records_the_part_given(world: World) -> None:
    _publish(world)
    member = world.enroll()
    first = world.buy(member, 300_000)   # 30,000 of cashback
    second = world.buy(member, 300_000)  # 30,000 asked, 20,000 left
    third = world.buy(member, 300_000)   # nothing left
    assert "cashback-capped" in first["applied_rules"] and "cashback-capped" in second["applied_rules"]
    assert "cashback-capped" not in third["applied_rules"]
    assert _cashback(second) == ["بازگشت وجه، روی هم ۵۰٬۰۰۰ ریال: ۲۰٬۰۰۰ ریال اعتبار، یعنی همهٔ باقی‌ماندهٔ بودجهٔ این طرح"]
    assert scalar(world.service, "SELECT used FROM budget_usage WHERE key = ?", (KEY,)) == CAP
    cashback = scalar(world.service, "SELECT SUM(balance) FROM balances WHERE account = ?", (f"member:{member}/cashback",))
    assert cashback == CAP


def test_a_partial_budget_is_shared_across_one_batch(world: World) -> None:
    """Three purchases decided in one bulk batch: 30,000, then the 20,000 left, then nothing."""
    _publish(world)
    members = [world.enroll() for _ in range(3)]
    answers = _one_batch(world, [world.request(m, 300_000) for m in members])
    given = [scalar(world.service, "SELECT COALESCE(SUM(balance), 0) FROM balances WHERE account = ?", (f"member:{m}/cashback",)) for m in members]
    assert given == [30_000, 20_000, 0]
    assert ["cashback-capped" in a["applied_rules"] for a in answers] == [True, True, False]
    assert scalar(world.service, "SELECT used FROM budget_usage WHERE key = ?", (KEY,)) == CAP
