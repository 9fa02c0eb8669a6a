"""The merchant staff's pages: their merchant's day, terminals, operations, the credit members
hold that only their merchant honours, and what the club owes them per day.

A merchant's staff act as an integration key bound to their merchant (``Viewer.ctx``): the
merchant is the key's (``routes.merchants.bound_merchant``), checked against the club tree by
the API's own ``own_merchant``, and every read below is scoped by that merchant and its root
club: nothing of another merchant, or of another club, is ever read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, request

from kimia.errors import KimiaError, reject
from kimia.service import dashboard_views as dv
from kimia.web.api.routes import merchants as merchant_routes
from kimia.web.panel import fmt, i18n
from kimia.web.panel.access import MERCHANT, PANEL, Viewer, error_fields, service
from kimia.web.panel.site import render

i18n.add({
    "nav.merchant_home": ("امروز فروشگاه", "Today"),
    "nav.merchant_terminals": ("پایانه‌ها", "Terminals"),
    "nav.merchant_operations": ("تراکنش‌ها", "Operations"),
    "nav.merchant_liability": ("اعتبار نزد اعضا", "Credit members hold"),
    "nav.merchant_settlement": ("تسویه", "Settlement"),
    "merchant.today": ("امروز، {day}", "Today, {day}"),
    "merchant.purchases": ("خریدها", "Purchases"),
    "merchant.sales": ("مبلغ فروش", "Sales"),
    "merchant.refunds": ("برگشتی‌ها", "Refunds and reversals"),
    "merchant.refunds_rial": ("مبلغ برگشتی", "Refunded"),
    "merchant.members": ("مشتریان عضو", "Members served"),
    "merchant.settlement_today": ("طلب امروز از باشگاه", "Owed by the club today"),
    "merchant.terminals": ("پایانه‌های فروشگاه", "The merchant's terminals"),
    "merchant.terminal": ("پایانه", "Terminal"),
    "merchant.merchant_code": ("کد پذیرنده", "Merchant code"),
    "merchant.kind": ("نوع", "Kind"),
    "merchant.kind.pos": ("کارتخوان", "Card reader"),
    "merchant.kind.pcpos": ("صندوق فروش", "Cash register"),
    "merchant.active": ("فعال", "Active"),
    "merchant.inactive": ("غیرفعال", "Inactive"),
    "merchant.last_seen": ("آخرین تراکنش", "Last operation"),
    "merchant.not_seen": ("در {n} روز اخیر تراکنشی نداشته", "None in the last {n} days"),
    "merchant.operations": ("تراکنش‌های روز", "Operations of the day"),
    "merchant.day": ("روز", "Day"),
    "merchant.show": ("نمایش", "Show"),
    "merchant.time": ("زمان", "Time"),
    "merchant.op_kind": ("نوع", "Kind"),
    "merchant.member": ("عضو", "Member"),
    "merchant.status": ("وضعیت", "Status"),
    "merchant.op.purchase": ("خرید", "Purchase"),
    "merchant.op.refund": ("برگشت از فروش", "Refund"),
    "merchant.op.reversal": ("ابطال", "Reversal"),
    "merchant.op.hold": ("رزرو", "Hold"),
    "merchant.op.completion": ("تکمیل رزرو", "Completion"),
    "merchant.op.cancel": ("لغو رزرو", "Cancel"),
    "merchant.status.done": ("انجام‌شده", "Done"),
    "merchant.status.held": ("رزروشده", "Held"),
    "merchant.status.completed": ("تکمیل‌شده", "Completed"),
    "merchant.status.cancelled": ("لغوشده", "Cancelled"),
    "merchant.status.reversed": ("ابطال‌شده", "Reversed"),
    "merchant.liability": ("اعتبار فروشگاهی نزد اعضا", "Merchant credit members hold"),
    "merchant.liability_help": ("اعتباری که اعضا فقط در این فروشگاه می‌توانند خرج کنند و هنوز خرج نکرده‌اند.",
                                "Credit members can spend only at this merchant and have not spent yet."),
    "merchant.outstanding": ("مانده", "Outstanding"),
    "merchant.holders": ("تعداد دارندگان", "Members holding it"),
    "merchant.settlement": ("تسویه روزانه", "Settlement per day"),
    "merchant.settlement_help": ("سهم فروشگاه از پرداخت‌ها در هر روز، که باشگاه باید به حساب فروشگاه واریز کند (۳۰ روز اخیر).",
                                 "The merchant's share of payments each day, which the club pays to the merchant (last 30 days)."),
    "merchant.legs": ("تعداد اقلام", "Items"),
    "merchant.csv": ("دریافت فایل", "Download"),
})

#: Days of settlement shown.
SETTLEMENT_DAYS = 30
PAGE = 50


def _scope(v: Viewer) -> tuple[int, int, str]:
    """(root club, merchant, the merchant's name in the page's language), through the API's own checks."""
    ctx = v.ctx()
    merchant_id = merchant_routes.bound_merchant(ctx)
    if merchant_id is None:
        raise reject("role_forbidden", action="merchant")
    merchant = merchant_routes.get_merchant(ctx, merchant_id)
    svc = service()
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, merchant.club_id)
    return root, merchant_id, merchant.name_fa if v.lang == "fa" else (merchant.name_en or merchant.name_fa)


def _day_label(day: int, lang: str) -> str:
    y, m, d = fmt.jalali(dt.date(1970, 1, 1) + dt.timedelta(days=day))
    return fmt.digits(f"{y:04d}/{m:02d}/{d:02d}", lang)


@PANEL.page("/merchant", roles=MERCHANT, menu=("nav.merchant_home", 10))
def home(v: Viewer) -> Any:
    """The merchant's figures of today."""
    root, merchant_id, name = _scope(v)
    day = dv.today(service(), root)
    figures = dv.merchant_day(service(), root, merchant_id, day)
    return render("panel/merchant/home.html", merchant_name=name, day_label=_day_label(day, v.lang), f=figures)


@PANEL.page("/merchant/terminals", roles=MERCHANT, menu=("nav.merchant_terminals", 20))
def terminals(v: Viewer) -> Any:
    """The merchant's terminals and when each last made an operation."""
    root, merchant_id, name = _scope(v)
    return render("panel/merchant/terminals.html", merchant_name=name, terminals=dv.merchant_terminals(service(), root, merchant_id),
                  seen_days=dv.SEEN_DAYS)


@PANEL.page("/merchant/operations", roles=MERCHANT, menu=("nav.merchant_operations", 30))
def operations(v: Viewer) -> Any:
    """A day's operations at the merchant (today unless a Jalali day is chosen), paged."""
    root, merchant_id, name = _scope(v)
    today = dv.today(service(), root)
    day, errors, typed = today, {}, request.args.get("day", "").strip()
    if typed:
        try:
            day = (fmt.parse_jdate(typed, "day") - dt.date(1970, 1, 1)).days
        except KimiaError as refused:
            errors = error_fields(refused, v.lang)
            day = today
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        after = 0
    rows = dv.merchant_operations(service(), root, merchant_id, day, after_id=max(0, after), limit=PAGE + 1)
    more = rows[PAGE].id if len(rows) > PAGE else None
    rows = rows[:PAGE]
    next_url = f"{request.path}?day={_day_label(day, 'en')}&after={rows[-1].id}" if more and rows else None
    return render("panel/merchant/operations.html", merchant_name=name, rows=rows, day_text=_day_label(day, v.lang),
                  day_value=typed if errors else _day_label(day, v.lang), errors=errors, next_url=next_url, op_words=i18n.MESSAGES)


@PANEL.page("/merchant/liability", roles=MERCHANT, menu=("nav.merchant_liability", 40))
def liability(v: Viewer) -> Any:
    """The credit members hold that only this merchant honours."""
    root, merchant_id, name = _scope(v)
    outstanding, holders = dv.merchant_liability(service(), root, merchant_id)
    return render("panel/merchant/liability.html", merchant_name=name, outstanding=outstanding, holders=holders)


@PANEL.page("/merchant/settlement", roles=MERCHANT, menu=("nav.merchant_settlement", 50))
def settlement(v: Viewer) -> Any:
    """What the club owes the merchant per day, with each day's file."""
    root, merchant_id, name = _scope(v)
    today = dv.today(service(), root)
    days = dv.merchant_settlement(service(), root, merchant_id, today - SETTLEMENT_DAYS + 1, today)
    rows = [(d, _day_label(d.day, v.lang), _day_label(d.day, "en")) for d in days]
    return render("panel/merchant/settlement.html", merchant_name=name, rows=rows)


@PANEL.page("/merchant/settlement.csv", roles=MERCHANT)
def settlement_csv(v: Viewer) -> Any:
    """One day's settlement of the merchant as CSV (``?day=`` a Jalali date; today by default)."""
    root, merchant_id, _ = _scope(v)
    typed = request.args.get("day", "").strip()
    day = (fmt.parse_jdate(typed, "day") - dt.date(1970, 1, 1)).days if typed else dv.today(service(), root)
    body = dv.merchant_settlement_csv(service(), root, merchant_id, day)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="settlement-{merchant_id}-{day}.csv"'
    return response
