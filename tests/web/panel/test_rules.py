"""The rules builder (kimia/web/panel/pages/rules.py): versions, the form and its JSON, errors at
their fields, dry run, backtest, publish with a Jalali effective date, and the difference of two
versions, in Persian and English, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

from ..conftest import count
from .conftest import Panel, csrf_of, page, post

PERSIAN_DIGIT = re.compile("[۰-۹]")
JALALI = re.compile("۱۴۰[0-9۰-۹]/[۰-۹]{2}/[۰-۹]{2}")


def test_pages_render(panel: Panel) -> None:
    admin = panel.client("admin")
    for path in ("/panel/rules", "/panel/rules/edit", "/panel/rules/diff"):
        status, html = page(admin, path)
        assert status == 200, html[-3000:]
        status, html = page(admin, path + "?lang=en")
        assert status == 200, html[-3000:]
