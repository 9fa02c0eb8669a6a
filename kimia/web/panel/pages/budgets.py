"""Rule budgets and their use (SPEC R14): each budget the club's current rules declare, read in the
period (day, Jalali month or all time) holding the chosen day, as a table and a bar chart of the
share of each limit used. Read through the JSON API's handler (GET /budgets) as the viewer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request

from kimia.errors import KimiaError
from kimia.web.api.routes import ledger as api
from kimia.web.panel import charts, fmt, i18n
from kimia.web.panel.access import CLUB_READ, PANEL, Viewer
from kimia.web.panel.offers_forms import field_errors, jalali_text
from kimia.web.panel.site import render

i18n.add({
    "nav.budgets": ("بودجه‌ها", "Budgets"),
    "budgets.title": ("بودجهٔ قاعده‌ها", "Rule budgets"),
    "budgets.intro": ("سقف‌هایی که قاعده‌های منتشرشدهٔ باشگاه برای هزینه یا تعداد استفاده تعیین کرده‌اند، و مصرف آن‌ها در دورهٔ روز انتخاب‌شده.",
                      "The limits of cost or uses the club's published rules set, and their use in the period holding the chosen day."),
    "budgets.day": ("روز", "Day"),
    "budgets.show": ("نمایش", "Show"),
    "budgets.version": ("نسخهٔ قاعده‌ها: {n}", "Rule set version {n}"),
    "budgets.none": ("قاعده‌های فعلی باشگاه بودجه‌ای تعیین نکرده‌اند.", "The club's current rules declare no budget."),
    "budgets.rule": ("قاعده", "Rule"),
    "budgets.per": ("شمارش برای", "Counted per"),
    "budgets.per.rule": ("کل قاعده", "the whole rule"),
    "budgets.per.member": ("هر عضو", "each member"),
    "budgets.per.merchant": ("هر پذیرنده", "each merchant"),
    "budgets.period": ("دوره", "Period"),
    "budgets.period.day": ("روزانه", "Daily"),
    "budgets.period.month": ("ماهانه (شمسی)", "Monthly (Jalali)"),
    "budgets.period.total": ("کل", "All time"),
    "budgets.limit": ("سقف", "Limit"),
    "budgets.uses": ("{n} بار", "{n} uses"),
    "budgets.used": ("مصرف", "Used"),
    "budgets.share": ("درصد مصرف", "Share used"),
    "budgets.holders": ("دارندگان مصرف", "Holders"),
    "budgets.most": ("بیشترین مصرف یک دارنده", "Most by one"),
    "budgets.chart": ("درصد مصرف هر بودجه از سقفش", "Share of each budget's limit used"),
    "budgets.chart_series": ("درصد مصرف", "Share used (%)"),
})


def _share(b: api.BudgetOut) -> int:
    """The percentage of the budget's limit used (of a per-member or per-merchant budget: the most
    one holder used, since each holder has the whole limit)."""
    limit = b.limit_rial if b.limit_rial is not None else b.limit_count
    if not limit:
        return 0
    used = b.used if b.per == "rule" else b.most_used
    return used * 100 // limit


@PANEL.page("/budgets", roles=CLUB_READ, menu=("nav.budgets", 55))
def budgets(v: Viewer) -> Any:
    """The budgets and their use on a day (default: the club's today), table and chart."""
    ctx = v.ctx()
    typed = request.args.get("day", "").strip()
    errors: dict[str, str] = {}
    status = 200
    day: dt.date | None = None
    try:
        if typed:
            day = fmt.parse_jdate(typed, "day")
        found = api.budgets(ctx, api.BudgetQuery(limit=200, day=day.isoformat() if day else None))
    except KimiaError as error:
        errors, status = field_errors(error, v.lang, ["day"]), 400
        found = api.budgets(ctx, api.BudgetQuery(limit=200))
    shown_day = dt.date.fromisoformat(found.day)
    items = found.items
    labels = [f"{b.rule_id} #{fmt.digits(b.index + 1, v.lang)}" for b in items]
    chart = charts.bars(i18n.text("budgets.chart", v.lang), labels,
                        [charts.Series(i18n.text("budgets.chart_series", v.lang), [_share(b) for b in items])], v.lang) if items else None
    return render("panel/budgets/budgets.html", status=status, found=found, items=[(b, _share(b)) for b in items], chart=chart,
                  day_text=typed if errors else jalali_text(shown_day, v.lang), errors=errors)
