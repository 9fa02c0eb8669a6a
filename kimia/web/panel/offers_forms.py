"""Small pieces the offers pages (tiers, vouchers, lotteries, budgets, settlement, audit) share:
reading what a person typed into a form (Persian digits and thousands separators allowed), placing
a refusal at a field the form shows, and reading a Jalali day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import request

from kimia.errors import KimiaError
from kimia.web.panel import fmt
from kimia.web.panel.access import error_fields

EPOCH = dt.date(1970, 1, 1)


def number_text(value: str) -> str:
    """A number as typed (۱۲٬۰۰۰ or 12,000) as Latin digits without separators."""
    return fmt.latin_digits(value.strip()).replace("٬", "").replace(",", "").replace(" ", "")


def form_values(names: Iterable[str], *, numbers: Iterable[str] = (), keep_empty: bool = False) -> dict[str, Any]:
    """The posted ``names`` (empty ones left out unless ``keep_empty``, so the model's defaults apply);
    ``numbers`` are read as numbers typed in any digits."""
    numeric = set(numbers)
    found: dict[str, Any] = {}
    for name in names:
        raw = request.form.get(name, "")
        value = number_text(raw) if name in numeric else fmt.normalize(raw)
        if value or keep_empty:
            found[name] = value
    return found


def field_errors(error: KimiaError, lang: str, fields: Iterable[str]) -> dict[str, str]:
    """A refusal at the field the form shows, or at the form itself when it names no such field."""
    errors = error_fields(error, lang)
    known = set(fields)
    return {(path if path in known else ""): message for path, message in errors.items()}


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def day_of(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=number)


def jalali_text(day: dt.date, lang: str) -> str:
    """A day as a Jalali date field shows it (1405/09/15 in the page's digits)."""
    y, m, d = fmt.jalali(day)
    return fmt.digits(f"{y:04d}/{m:02d}/{d:02d}", lang)
