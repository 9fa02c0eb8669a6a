"""Numbers, money and Jalali dates for people, and what people type (kimia.web.panel.fmt)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kimia.errors import KimiaError
from kimia.web.panel import fmt

TEHRAN = 210


def test_persian_digits_and_separators() -> None:
    assert fmt.number(1234567, "fa") == "۱٬۲۳۴٬۵۶۷"
    assert fmt.number(1234567, "en") == "1,234,567"
    assert fmt.number(-5, "fa") == "-۵"


def test_money_in_rials_or_tomans() -> None:
    assert fmt.money(1_500_000, "fa") == "۱٬۵۰۰٬۰۰۰ ریال"
    assert fmt.money(1_500_000, "fa", toman=True) == "۱۵۰٬۰۰۰ تومان"
    assert fmt.money(1_500_005, "en", toman=True) == "150,000.5 tomans"
    assert fmt.money(-20, "en", toman=True) == "-2 tomans"


def test_jalali_dates_in_the_clubs_time_zone() -> None:
    # 2026-03-20 20:45 UTC is 1405/01/01 00:15 in Tehran (UTC+3:30): Nowruz.
    ts = int(dt.datetime(2026, 3, 20, 20, 45, tzinfo=dt.timezone.utc).timestamp())
    assert fmt.jdate(ts, TEHRAN, "en") == "1405/01/01"
    assert fmt.jdatetime(ts, TEHRAN, "fa") == "۱۴۰۵/۰۱/۰۱ ۰۰:۱۵"
    assert fmt.jdate(ts, 0, "en") == "1404/12/29"
    assert fmt.jday_label(dt.date(2026, 12, 6), "fa") == "۱۵ آذر"


@pytest.mark.parametrize("typed", ["1405/09/15", "۱۴۰۵/۰۹/۱۵", "١٤٠٥-٩-١٥", "1405.9.15", " 1405/9/15 "])
def test_jalali_entry_is_read_leniently(typed: str) -> None:
    assert fmt.parse_jdate(typed) == dt.date(2026, 12, 6)


@pytest.mark.parametrize("typed", ["", "1405/13/01", "1405/07/31", "1404/12/30", "14050915", "tomorrow", "1405/09"])
def test_a_date_that_is_not_one_is_refused_at_its_field(typed: str) -> None:
    with pytest.raises(KimiaError) as refused:
        fmt.parse_jdate(typed, path="effective_from")
    assert refused.value.code == "invalid_date" and refused.value.path == "effective_from"


def test_leap_esfand_30() -> None:
    assert fmt.parse_jdate("1403/12/30") == dt.date(2025, 3, 20)


def test_search_text_is_normalised() -> None:
    assert fmt.normalize("علي  كريمي ۰۹۱۲") == "علی کریمی 0912"
    assert fmt.normalize("٠٩١٢٣٤٥٦٧٨٩") == "09123456789"


def test_a_constant_under_a_language_filter_follows_each_request_s_language(panel: Any) -> None:
    """``'1405/09/15'|digits`` is not folded into the compiled template in the first language."""
    app = panel.api.app
    template = app.jinja_env.from_string("{{ '1405/09/15'|digits }}")
    from flask import g

    from kimia.web.panel.access import Viewer

    with app.test_request_context():
        g.viewer = Viewer(None, "fa", False)
        assert template.render() == "۱۴۰۵/۰۹/۱۵"
        g.viewer = Viewer(None, "en", False)
        assert template.render() == "1405/09/15"
