"""R4 — when: Gregorian and Jalali date ranges, hours (wrapping past midnight), Iranian weekdays,
and a rule's own validity window."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import kimia

from .helpers import at, book, check_line, lines, member, purchase, rule


def _applies(conditions: list[dict[str, Any]], now: int, **fields: Any) -> bool:
    b = book([rule("r", {"type": "points", "fixed": 1}, conditions=conditions, **fields)])
    d = b.evaluate(purchase(), member(), now)
    line = lines(d)["r"]
    if line["code"] == "applied":
        check_line(line, "applied")
        return True
    if line["code"] == "outside_validity":
        check_line(line, "outside_validity")
        return False
    check_line(line, "condition_failed", condition=conditions[0]["type"])
    return False


GREGORIAN = {"type": "date_range", "from": "2026-12-01", "to": "2026-12-31"}

R4_GREGORIAN: list[tuple[str, int, bool]] = [
    ("first day 00:00", at(2026, 12, 1, 0, 0), True),
    ("day before 23:59", at(2026, 11, 30, 23, 59), False),
    ("last day 23:59", at(2026, 12, 31, 23, 59), True),
    # 2027-01-01 00:00 in Tehran is still 2026-12-31 in UTC: the local date decides.
    ("day after 00:00 Tehran", at(2027, 1, 1, 0, 0), False),
    ("middle", at(2026, 12, 15, 15), True),
]


@pytest.mark.parametrize(("now", "applies"), [c[1:] for c in R4_GREGORIAN], ids=[c[0] for c in R4_GREGORIAN])
def test_r4_when_gregorian_date_range(now: int, applies: bool) -> None:
    assert _applies([GREGORIAN], now) is applies


def test_r4_when_open_ended_dates() -> None:
    assert _applies([{"type": "date_range", "from": "2026-12-01", "to": None}], at(2040, 1, 1))
    assert not _applies([{"type": "date_range", "from": "2026-12-01", "to": None}], at(2026, 11, 30, 23, 59))
    assert _applies([{"type": "date_range", "from": None, "to": "2026-12-01"}], at(2000, 1, 1))
    assert not _applies([{"type": "date_range", "from": None, "to": "2026-12-01"}], at(2026, 12, 2, 0, 0))


# Yalda campaign 1405-09-25 .. 1405-10-05 (Jalali) = 2026-12-16 .. 2026-12-26.
JALALI = {"type": "date_range", "from": "1405-09-25", "to": "1405-10-05", "calendar": "jalali"}

R4_JALALI: list[tuple[str, int, bool]] = [
    ("before", at(2026, 12, 15, 23, 59), False),
    ("first day", at(2026, 12, 16, 0, 0), True),
    ("yalda night", at(2026, 12, 21, 22), True),
    ("last day", at(2026, 12, 26, 23, 59), True),
    ("after", at(2026, 12, 27, 0, 0), False),
]


@pytest.mark.parametrize(("now", "applies"), [c[1:] for c in R4_JALALI], ids=[c[0] for c in R4_JALALI])
def test_r4_when_jalali_date_range(now: int, applies: bool) -> None:
    assert kimia.jalali_to_gregorian(1405, 9, 25) == (2026, 12, 16)
    assert kimia.jalali_to_gregorian(1405, 10, 5) == (2026, 12, 26)
    assert _applies([JALALI], now) is applies


@pytest.mark.parametrize(
    ("jalali", "gregorian"),
    [((1403, 1, 1), (2024, 3, 20)), ((1404, 1, 1), (2025, 3, 21)), ((1403, 12, 30), (2025, 3, 20)), ((1405, 9, 2), (2026, 11, 23)), ((1405, 6, 31), (2026, 9, 22))],
)
def test_r4_when_jalali_calendar_conversions(jalali: tuple[int, int, int], gregorian: tuple[int, int, int]) -> None:
    assert kimia.jalali_to_gregorian(*jalali) == gregorian
    assert kimia.gregorian_to_jalali(*gregorian) == jalali


def test_r4_when_jalali_round_trips_for_years() -> None:
    day = dt.date(2020, 1, 1)
    while day < dt.date(2030, 1, 1):
        j = kimia.gregorian_to_jalali(day.year, day.month, day.day)
        assert kimia.jalali_to_gregorian(*j) == (day.year, day.month, day.day)
        day += dt.timedelta(days=1)


def test_r4_when_nowruz_campaign_across_the_jalali_new_year() -> None:
    nowruz = [{"type": "date_range", "from": "1404-12-25", "to": "1405-01-13", "calendar": "jalali"}]
    assert kimia.jalali_to_gregorian(1404, 12, 25) == (2026, 3, 16)
    assert kimia.jalali_to_gregorian(1405, 1, 13) == (2026, 4, 2)
    assert _applies(nowruz, at(2026, 3, 21, 10))
    assert _applies(nowruz, at(2026, 4, 2, 23, 59))
    assert not _applies(nowruz, at(2026, 4, 3, 0, 0))
    assert not _applies(nowruz, at(2026, 3, 15, 23, 59))


R4_HOURS: list[tuple[str, str, str, tuple[int, int], bool]] = [
    ("day: before", "16:00", "19:00", (15, 59), False),
    ("day: from is inclusive", "16:00", "19:00", (16, 0), True),
    ("day: inside", "16:00", "19:00", (18, 59), True),
    ("day: to is exclusive", "16:00", "19:00", (19, 0), False),
    ("wrap: before", "22:00", "02:00", (21, 59), False),
    ("wrap: from", "22:00", "02:00", (22, 0), True),
    ("wrap: late evening", "22:00", "02:00", (23, 59), True),
    ("wrap: midnight", "22:00", "02:00", (0, 0), True),
    ("wrap: after midnight", "22:00", "02:00", (1, 59), True),
    ("wrap: to", "22:00", "02:00", (2, 0), False),
    ("wrap: noon", "22:00", "02:00", (12, 0), False),
    ("until midnight", "20:00", "24:00", (23, 59), True),
    ("until midnight: not morning", "20:00", "24:00", (0, 30), False),
    ("same from and to is all day", "08:00", "08:00", (3, 0), True),
]


@pytest.mark.parametrize(("start", "end", "clock", "applies"), [c[1:] for c in R4_HOURS], ids=[c[0] for c in R4_HOURS])
def test_r4_when_hour_range(start: str, end: str, clock: tuple[int, int], applies: bool) -> None:
    now = at(2026, 12, 17, *clock)
    assert _applies([{"type": "hour_range", "from": start, "to": end}], now) is applies


# The Iranian week starts on Saturday. 2026-12-19 is a Saturday.
IRANIAN_WEEK = ["sat", "sun", "mon", "tue", "wed", "thu", "fri"]


@pytest.mark.parametrize("offset", range(7), ids=IRANIAN_WEEK)
def test_r4_when_weekdays(offset: int) -> None:
    day = dt.date(2026, 12, 19) + dt.timedelta(days=offset)
    assert IRANIAN_WEEK[(day.weekday() + 2) % 7] == IRANIAN_WEEK[offset]
    now = at(day.year, day.month, day.day, 10)
    b = book([rule(name, {"type": "points", "fixed": 1}, conditions=[{"type": "weekdays", "days": [name]}]) for name in IRANIAN_WEEK])
    d = b.evaluate(purchase(), member(), now)
    assert d.applied_rules == [IRANIAN_WEEK[offset]]
    for name, line in lines(d).items():
        if name == IRANIAN_WEEK[offset]:
            check_line(line, "applied")
        else:
            check_line(line, "condition_failed", condition="weekdays")


def test_r4_when_weekend_uses_tehran_weekday() -> None:
    weekend = [{"type": "weekdays", "days": ["thu", "fri"]}]
    # Friday 00:10 in Tehran is Thursday 20:40 UTC; Saturday 00:10 Tehran is Friday UTC.
    assert _applies(weekend, at(2026, 12, 18, 0, 10))
    assert not _applies(weekend, at(2026, 12, 19, 0, 10))
    assert not _applies(weekend, at(2026, 12, 16, 23, 59))  # Wednesday


def test_r4_when_rule_validity_and_enabled() -> None:
    start, end = at(2026, 12, 1), at(2026, 12, 31)
    assert _applies([], start, valid_from=start, valid_to=end)
    assert _applies([], end, valid_from=start, valid_to=end)
    assert not _applies([], start - 1, valid_from=start, valid_to=end)
    assert not _applies([], end + 1, valid_from=start, valid_to=end)
    assert not _applies([], start, enabled=False)


def test_r4_when_combined_time_conditions() -> None:
    """Happy hour on Yalda weekend nights: date, weekday and hour must all hold."""
    conditions = [JALALI, {"type": "weekdays", "days": ["thu", "fri"]}, {"type": "hour_range", "from": "18:00", "to": "01:00"}]
    b = book([rule("r", {"type": "points", "fixed": 1}, conditions=conditions)])
    cases = [
        (at(2026, 12, 17, 20), None),  # Thursday 20:00
        (at(2026, 12, 18, 0, 30), None),  # Friday 00:30, inside the wrapped hours
        (at(2026, 12, 19, 0, 30), "weekdays"),  # Saturday 00:30
        (at(2026, 12, 17, 17, 59), "hour_range"),
        (at(2026, 12, 31, 20), "date_range"),  # a Thursday after the campaign
    ]
    for now, failed in cases:
        line = lines(b.evaluate(purchase(), member(), now))["r"]
        if failed is None:
            check_line(line, "applied")
        else:
            check_line(line, "condition_failed", condition=failed)
