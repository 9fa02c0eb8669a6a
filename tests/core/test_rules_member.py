"""R3 — who buys: member group, tier, recency, spend and frequency windows, points held."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import DAY, at, book, check_line, lines, local_day, member, purchase, rule

NOW = at(2026, 12, 17, 11)
TODAY = local_day(NOW)


def _decide(condition: dict[str, Any], snapshot: dict[str, Any], now: int = NOW) -> tuple[bool, dict[str, Any]]:
    b = book([rule("r", {"type": "points", "fixed": 3}, conditions=[condition])])
    d = b.evaluate(purchase(), snapshot, now)
    line = lines(d)["r"]
    if line["code"] == "applied":
        check_line(line, "applied")
        assert d.points_earned == 3
        return True, line
    check_line(line, "condition_failed", condition=condition["type"])
    assert d.points_earned == 0
    return False, line


R3_GROUP_TIER: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("group hit", {"type": "member_group", "ids": [5, 6]}, {"groups": [6]}, True),
    ("group of several", {"type": "member_group", "ids": [5]}, {"groups": [1, 2, 5]}, True),
    ("group miss", {"type": "member_group", "ids": [5]}, {"groups": [4]}, False),
    ("no group", {"type": "member_group", "ids": [5]}, {}, False),
    ("tier hit", {"type": "tier", "names": ["gold", "platinum"]}, {"tier": "gold"}, True),
    ("tier miss", {"type": "tier", "names": ["gold"]}, {"tier": "silver"}, False),
    ("no tier", {"type": "tier", "names": ["gold"]}, {}, False),
]


@pytest.mark.parametrize(("condition", "fields", "applies"), [c[1:] for c in R3_GROUP_TIER], ids=[c[0] for c in R3_GROUP_TIER])
def test_r3_who_buys_group_and_tier(condition: dict[str, Any], fields: dict[str, Any], applies: bool) -> None:
    assert _decide(condition, member(**fields))[0] is applies


R3_RECENCY: list[tuple[str, dict[str, Any], int | None, bool]] = [
    # (name, condition, days before now of the last purchase (None: never bought), applies)
    ("lapsed 30+ days, 45 ago", {"min": 30}, 45, True),
    ("lapsed 30+ days, exactly 30", {"min": 30}, 30, True),
    ("lapsed 30+ days, 29 ago", {"min": 30}, 29, False),
    ("recent within 7, today", {"max": 7}, 0, True),
    ("recent within 7, 8 ago", {"max": 7}, 8, False),
    ("window 10..20, 15 ago", {"min": 10, "max": 20}, 15, True),
    ("never bought never matches", {"min": 0}, None, False),
]


@pytest.mark.parametrize(("bounds", "days_ago", "applies"), [c[1:] for c in R3_RECENCY], ids=[c[0] for c in R3_RECENCY])
def test_r3_who_buys_days_since_last_purchase(bounds: dict[str, Any], days_ago: int | None, applies: bool) -> None:
    last = None if days_ago is None else NOW - days_ago * DAY
    condition = {"type": "days_since_last_purchase", **bounds}
    assert _decide(condition, member(last_purchase_at=last))[0] is applies


def test_r3_who_buys_recency_counts_local_days() -> None:
    """Recency is in Tehran calendar days: 23:50 yesterday to 00:10 today is one day, not zero."""
    now = at(2026, 12, 17, 0, 10)
    last = at(2026, 12, 16, 23, 50)
    assert now - last == 20 * 60
    assert _decide({"type": "days_since_last_purchase", "min": 1, "max": 1}, member(last_purchase_at=last), now)[0]
    assert not _decide({"type": "days_since_last_purchase", "max": 0}, member(last_purchase_at=last), now)[0]


HISTORY = [
    {"day": TODAY, "count": 1, "spend_rial": 100_000},
    {"day": TODAY - 6, "count": 2, "spend_rial": 300_000},
    {"day": TODAY - 7, "count": 4, "spend_rial": 1_000_000},
    {"day": TODAY - 29, "count": 1, "spend_rial": 50_000},
    {"day": TODAY - 30, "count": 3, "spend_rial": 5_000_000},
    {"day": TODAY + 1, "count": 9, "spend_rial": 9_000_000},  # never counted: after today
]

R3_WINDOWS: list[tuple[str, dict[str, Any], bool]] = [
    # 7 days = today and the 6 days before: 3 purchases, 400,000 rial.
    ("spend 7d min hit", {"type": "spend_in_window", "days": 7, "min": 400_000}, True),
    ("spend 7d min miss", {"type": "spend_in_window", "days": 7, "min": 400_001}, False),
    ("spend 7d max", {"type": "spend_in_window", "days": 7, "max": 400_000}, True),
    ("spend 8d includes day -7", {"type": "spend_in_window", "days": 8, "min": 1_400_000, "max": 1_400_000}, True),
    ("spend 30d", {"type": "spend_in_window", "days": 30, "min": 1_450_000, "max": 1_450_000}, True),
    ("spend 31d", {"type": "spend_in_window", "days": 31, "min": 6_450_000}, True),
    ("spend 1d is today", {"type": "spend_in_window", "days": 1, "min": 100_000, "max": 100_000}, True),
    ("count 7d", {"type": "purchases_in_window", "days": 7, "min": 3, "max": 3}, True),
    ("count 7d min 4", {"type": "purchases_in_window", "days": 7, "min": 4}, False),
    ("count 8d", {"type": "purchases_in_window", "days": 8, "min": 7, "max": 7}, True),
    ("count 31d frequent", {"type": "purchases_in_window", "days": 31, "min": 10}, True),
    ("count 31d at most 10", {"type": "purchases_in_window", "days": 31, "max": 10}, False),
]


@pytest.mark.parametrize(("condition", "applies"), [c[1:] for c in R3_WINDOWS], ids=[c[0] for c in R3_WINDOWS])
def test_r3_who_buys_spend_and_purchases_in_window(condition: dict[str, Any], applies: bool) -> None:
    assert _decide(condition, member(history=HISTORY, purchase_count=20))[0] is applies


def test_r3_who_buys_window_uses_tehran_day() -> None:
    """At 00:10 Tehran (20:40 UTC the evening before) "today" is the Tehran date."""
    now = at(2026, 12, 18, 0, 10)
    tehran_today = local_day(now)
    utc_today = now // DAY
    assert tehran_today == utc_today + 1
    condition = {"type": "purchases_in_window", "days": 1, "min": 1}
    assert _decide(condition, member(history=[{"day": tehran_today, "count": 1, "spend_rial": 1}]), now)[0]
    assert not _decide(condition, member(history=[{"day": utc_today, "count": 1, "spend_rial": 1}]), now)[0]


def test_r3_who_buys_window_excludes_this_purchase_and_empty_history() -> None:
    assert not _decide({"type": "purchases_in_window", "days": 30, "min": 1}, member())[0]
    assert _decide({"type": "spend_in_window", "days": 30, "max": 0}, member())[0]


R3_POINTS: list[tuple[str, dict[str, Any], int, bool]] = [
    ("holds enough", {"min": 500}, 500, True),
    ("holds too few", {"min": 500}, 499, False),
    ("holds at most", {"max": 100}, 100, True),
    ("holds too many", {"max": 100}, 101, False),
    ("holds none", {"min": 1}, 0, False),
]


@pytest.mark.parametrize(("bounds", "points", "applies"), [c[1:] for c in R3_POINTS], ids=[c[0] for c in R3_POINTS])
def test_r3_who_buys_points_held(bounds: dict[str, Any], points: int, applies: bool) -> None:
    snapshot = member(accounts=[{"account": "member:42/points", "balance": points}, {"account": "member:7/points", "balance": 10_000}])
    assert _decide({"type": "points_held", **bounds}, snapshot)[0] is applies
