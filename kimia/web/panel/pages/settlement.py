"""The daily settlement (SPEC S1): who is paid what for one local day (Jalali date entry, default
yesterday): per merchant, marketer, club owner and the platform, with totals and the same CSV
file the API gives; and, for the platform operator, every club's totals of a day.

A club's settlement goes through the JSON API's handlers (GET /settlement/summary, GET
/settlement) acting as the viewer; the platform's view reads kimia.service.offers_views."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, request

from kimia.errors import KimiaError
from kimia.service import backoffice_views as views
from kimia.service import offers_views
from kimia.web.api.routes import ledger as api
from kimia.web.panel import fmt, i18n
from kimia.web.panel.access import PANEL, PLATFORM, Viewer, service
from kimia.web.panel.offers_forms import day_number, day_of, field_errors, jalali_text
from kimia.web.panel.site import render

#: Who reads a club's settlement: its admin and its read-only staff (accountants).
SETTLEMENT_READERS = frozenset({"admin", "read_only"})
ROLES = offers_views.SETTLEMENT_ROLES
#: The platform's default day is yesterday in Iran's time (the clubs' usual zone).
PLATFORM_OFFSET_MIN = 210

i18n.add({
    "nav.settlement": ("تسویه", "Settlement"),
    "settlement.title": ("تسویهٔ روزانه", "Daily settlement"),
    "settlement.intro": ("سهم هر ذی‌نفع از پرداخت‌های یک روز؛ جمع سطرها دقیقاً برابر پرداخت‌های آن روز است.",
                         "Each beneficiary's share of one day's payments; the lines add up exactly to the day's payments."),
    "settlement.day": ("روز", "Day"),
    "settlement.show": ("نمایش", "Show"),
    "settlement.none": ("در این روز پرداختی برای تسویه نیست.", "No payment to settle on this day."),
    "settlement.role.merchant": ("پذیرنده‌ها", "Merchants"),
    "settlement.role.merchant_marketer": ("بازاریاب پذیرنده", "Merchants' marketers"),
    "settlement.role.marketer": ("بازاریاب‌ها", "Marketers"),
    "settlement.role.club_owner": ("مالک باشگاه", "Club owner"),
    "settlement.role.platform": ("سکو", "Platform"),
    "settlement.beneficiary": ("ذی‌نفع", "Beneficiary"),
    "settlement.sheba": ("شبا", "Sheba"),
    "settlement.amount": ("مبلغ", "Amount"),
    "settlement.legs": ("تعداد سهم‌ها", "Legs"),
    "settlement.subtotal": ("جمع", "Subtotal"),
    "settlement.total": ("جمع کل", "Total"),
    "settlement.platform_title": ("تسویهٔ سکو", "Platform settlement"),
    "settlement.platform_intro": ("جمع تسویهٔ هر باشگاه در یک روز (روز محلی هر باشگاه).",
                                  "Each club's settlement totals of a day (each club's local day)."),
    "settlement.club": ("باشگاه", "Club"),
    "settlement.clubs": ("باشگاه‌ها", "Clubs"),
})


def _day(v: Viewer, default: int) -> tuple[int, str, dict[str, str]]:
    """(day number, the day as the field shows it, errors) of ``?day=`` (Jalali), else ``default``."""
    typed = request.args.get("day", "").strip()
    if typed:
        try:
            day = fmt.parse_jdate(typed, "day")
            return day_number(day), jalali_text(day, v.lang), {}
        except KimiaError as error:
            return default, typed, field_errors(error, v.lang, ["day"])
    return default, jalali_text(day_of(default), v.lang), {}


@PANEL.page("/settlement", roles=SETTLEMENT_READERS, menu=("nav.settlement", 70))
def settlement(v: Viewer) -> Any:
    """A day's settlement lines by role, their subtotals and total; a link to the CSV file."""
    ctx = v.ctx()
    day, day_text, errors = _day(v, views.local_day(ctx.svc, ctx.root()) - 1)
    gregorian = day_of(day).isoformat()
    found = api.settlement_summary(ctx, api.DayQuery(day=gregorian))
    groups = [(role, [line for line in found.lines if line.role == role]) for role in ROLES]
    return render("panel/settlement/settlement.html", status=400 if errors else 200, found=found, errors=errors, day_text=day_text,
                  groups=[(role, lines, sum(x.amount_rial for x in lines)) for role, lines in groups if lines],
                  csv_day=jalali_text(day_of(day), "en"), shown_day=jalali_text(day_of(day), v.lang))


@PANEL.page("/settlement/csv", roles=SETTLEMENT_READERS)
def csv_file(v: Viewer) -> Any:
    """The settlement file of a day: the API's own CSV (GET /settlement)."""
    ctx = v.ctx()
    typed = request.args.get("day", "").strip()  # a day that is not one: the error page, 400
    day = day_number(fmt.parse_jdate(typed, "day")) if typed else views.local_day(ctx.svc, ctx.root()) - 1
    raw = api.settlement(ctx, api.DayQuery(day=day_of(day).isoformat()))
    response = Response(raw.text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{raw.filename or "settlement.csv"}"'
    return response


@PANEL.page("/settlement/platform", roles=PLATFORM, menu=("nav.settlement", 71))
def platform(v: Viewer) -> Any:
    """Every club's settlement totals of a day, by role, for the platform operator."""
    svc = service()
    today = dt.datetime.fromtimestamp(svc.clock(), dt.timezone(dt.timedelta(minutes=PLATFORM_OFFSET_MIN))).date()
    day, day_text, errors = _day(v, day_number(today) - 1)
    clubs = offers_views.platform_settlement(svc, day)
    totals = {role: sum(c.by_role.get(role, 0) for c in clubs) for role in ROLES}
    return render("panel/settlement/platform.html", status=400 if errors else 200, clubs=clubs, roles=ROLES, totals=totals,
                  total=sum(c.total_rial for c in clubs), legs=sum(c.legs for c in clubs), errors=errors, day_text=day_text,
                  shown_day=jalali_text(day_of(day), v.lang))
