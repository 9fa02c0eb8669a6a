"""The club staff's home: the club's figures over the last 7, 30 or 90 days, drawn on the server
(kimia.web.panel.charts), each chart with a table of its exact numbers.

Everything is read from the per-day aggregate ``club_days`` (kimia.service.dashboard_views),
which the posting path keeps in the same transaction as each operation: the page reads a few
thousand small rows whatever the number of operations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import request
from markupsafe import Markup

from kimia.service import dashboard_views as dv
from kimia.web.panel import charts, fmt, i18n
from kimia.web.panel.access import CLUB_READ, PANEL, Viewer, service
from kimia.web.panel.site import render

i18n.add({
    "nav.dashboard": ("پیشخوان", "Dashboard"),
    "dashboard.title": ("پیشخوان باشگاه", "Club dashboard"),
    "dashboard.period": ("بازه", "Period"),
    "dashboard.days": ("{n} روز اخیر", "Last {n} days"),
    "dashboard.show": ("نمایش", "Show"),
    "dashboard.range": ("از {first} تا {last}", "From {first} to {last}"),
    "dashboard.purchases": ("خریدها", "Purchases"),
    "dashboard.sales": ("فروش خالص", "Net sales"),
    "dashboard.refunds": ("برگشت از فروش", "Refunds and reversals"),
    "dashboard.members_bought": ("میانگین هر خرید", "Average purchase"),
    "dashboard.purchases_chart": ("خرید و فروش روزانه", "Purchases and sales per day"),
    "dashboard.sales_chart": ("فروش خالص روزانه", "Net sales per day"),
    "dashboard.points_chart": ("امتیاز صادرشده، خرج‌شده و منقضی‌شده", "Points issued, redeemed and expired"),
    "dashboard.issued": ("صادرشده", "Issued"),
    "dashboard.redeemed": ("خرج‌شده", "Redeemed"),
    "dashboard.expired": ("منقضی‌شده", "Expired"),
    "dashboard.day": ("روز", "Day"),
    "dashboard.count": ("تعداد", "Count"),
    "dashboard.liability": ("تعهدات باقی‌مانده به اعضا", "Value members still hold"),
    "dashboard.liability_help": ("امتیاز و اعتبارهایی که اعضا هنوز در اختیار دارند و باشگاه باید پاسخگوی آن باشد، به تفکیک نوع.",
                                 "Points and credit members still hold, which the club must honour, by kind."),
    "dashboard.kind": ("نوع", "Kind"),
    "dashboard.outstanding": ("مانده", "Outstanding"),
    "dashboard.funders": ("اعطاشده در این بازه به تفکیک تأمین‌کننده", "Granted in the period, by funder"),
    "dashboard.funders_help": ("اعتبار و امتیازی که در این بازه به اعضا داده شد، بر اساس اینکه هزینه‌اش را چه کسی می‌پردازد.",
                               "Credit and points given to members in the period, by who bears the cost."),
    "dashboard.funder": ("تأمین‌کننده", "Funder"),
    "dashboard.tiers": ("اعضا در هر سطح", "Members per tier"),
    "dashboard.tier": ("سطح", "Tier"),
    "dashboard.members": ("اعضا", "Members"),
    "dashboard.no_tier": ("بدون سطح", "No tier"),
    "dashboard.moves": ("جابه‌جایی سطح‌ها در این بازه", "Tier moves in the period"),
    "dashboard.from": ("از سطح", "From"),
    "dashboard.to": ("به سطح", "To"),
    "dashboard.segments": ("بخش‌بندی اعضا (تازگی، دفعات، مبلغ)", "Member segments (recency, frequency, monetary)"),
    "dashboard.segments_help": (
        "تازگی: روزهای گذشته از آخرین خرید (تا ۳۰ روز، تا ۹۰ روز، بیشتر، هرگز). دفعات: تعداد کل خریدها (۱، ۲ تا ۵، ۶ و بیشتر)."
        " مبلغ: امتیاز کسب‌شده در دورهٔ جاری سطح (کمتر از ۱٬۰۰۰، تا ۱۰٬۰۰۰، بیشتر). ویژه: خرید در ۳۰ روز اخیر و ۶ خرید یا بیشتر؛"
        " وفادار: خرید در ۹۰ روز اخیر و دست‌کم ۲ خرید؛ تازه: خرید در ۹۰ روز اخیر و کمتر از ۲ خرید؛ در خطر ریزش: بیش از ۹۰ روز"
        " بی‌خرید با دست‌کم ۲ خرید؛ از دست رفته: بیش از ۹۰ روز بی‌خرید و کمتر از ۲ خرید. شمارش اعضا هر ۱۰ دقیقه تازه می‌شود.",
        "Recency: days since the last purchase (up to 30, up to 90, more, never). Frequency: purchases ever (1, 2-5, 6 or more)."
        " Monetary: points earned in the current tier period (under 1,000, up to 10,000, more). Champions: bought in the last 30"
        " days, 6 or more purchases; loyal: bought in the last 90 days, at least 2; new: bought in the last 90 days, fewer than 2;"
        " at risk: nothing for 90 days, at least 2; lost: nothing for 90 days, fewer than 2. Member counts are refreshed every 10 minutes."),
    "dashboard.segment": ("بخش", "Segment"),
    "dashboard.seg.champions": ("ویژه", "Champions"),
    "dashboard.seg.loyal": ("وفادار", "Loyal"),
    "dashboard.seg.new": ("تازه", "New"),
    "dashboard.seg.at_risk": ("در خطر ریزش", "At risk"),
    "dashboard.seg.lost": ("از دست رفته", "Lost"),
    "dashboard.seg.never": ("بدون خرید", "Never bought"),
    "dashboard.recency": ("تازگی", "Recency"),
    "dashboard.frequency": ("دفعات خرید", "Frequency"),
    "dashboard.monetary": ("مبلغ", "Monetary"),
    "dashboard.r0": ("هرگز", "Never"), "dashboard.r1": ("تا ۳۰ روز", "Up to 30 days"),
    "dashboard.r2": ("تا ۹۰ روز", "Up to 90 days"), "dashboard.r3": ("بیش از ۹۰ روز", "Over 90 days"),
    "dashboard.f0": ("بدون خرید", "No purchase"), "dashboard.f1": ("۱ خرید", "1 purchase"),
    "dashboard.f2": ("۲ تا ۵ خرید", "2-5 purchases"), "dashboard.f3": ("۶ خرید و بیشتر", "6 or more"),
    "dashboard.m1": ("کمتر از ۱٬۰۰۰ امتیاز", "Under 1,000 points"), "dashboard.m2": ("۱٬۰۰۰ تا ۱۰٬۰۰۰ امتیاز", "1,000-10,000 points"),
    "dashboard.m3": ("بیش از ۱۰٬۰۰۰ امتیاز", "Over 10,000 points"),
    "dashboard.budgets": ("مصرف بودجه‌ها", "Budget use"),
    "dashboard.rule": ("قاعده", "Rule"),
    "dashboard.budget_period": ("دوره", "Period"),
    "dashboard.used": ("مصرف‌شده", "Used"),
    "dashboard.limit": ("سقف", "Limit"),
    "dashboard.share": ("درصد", "Share"),
    "dashboard.no_limit": ("بی‌سقف", "No limit"),
    "dashboard.figures": ("جدول اعداد", "The numbers"),
    "dashboard.per.day": ("روزانه", "Daily"), "dashboard.per.month": ("ماهانه", "Monthly"), "dashboard.per.total": ("کل", "Total"),
    "value.points": ("امتیاز", "Points"),
    "value.merchant_credit": ("اعتبار فروشگاهی", "Merchant credit"),
    "value.club_credit": ("اعتبار باشگاه", "Club credit"),
    "value.virtual_credit": ("اعتبار مجازی", "Virtual credit"),
    "value.cashback": ("بازگشت وجه", "Cashback"),
    "value.gift_credit": ("اعتبار هدیه", "Gift credit"),
    "value.welfare_credit": ("اعتبار رفاهی", "Welfare credit"),
    "value.credit_line": ("اعتبار اقساطی", "Credit line"),
    "value.points_debt": ("بدهی امتیاز", "Points owed"),
    "value.credit_debt": ("بدهی اعتبار", "Credit owed"),
    "funder.club": ("باشگاه", "Club"),
    "funder.merchant": ("فروشگاه", "Merchant"),
    "funder.platform": ("پلتفرم", "Platform"),
    "funder.marketer": ("بازاریاب", "Marketer"),
    "funder.org": ("سازمان", "Organisation"),
    "funder.cash": ("خرید نقدی", "Bought for cash"),
})

#: Value kinds counted in points (the rest are rials).
POINT_KINDS = ("points", "points_debt")
#: What counts as redeeming points (the rest of retired points: expiry, period deductions).
_NOT_REDEEMED = ("expiry", "adjustment")


@dataclass
class Figure:
    """A chart and its table of exact numbers (for screen readers and for copying)."""

    key: str
    title: str
    chart: Markup | None
    legend: Markup | None
    columns: list[str]
    rows: list[list[tuple[str, bool]]]
    help: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _period() -> int:
    try:
        days = int(fmt.latin_digits(request.args.get("days", "30")))
    except ValueError:
        return 30
    return days if days in dv.PERIODS else 30


@PANEL.page("/dashboard", roles=CLUB_READ, menu=("nav.dashboard", 10))
def dashboard(v: Viewer) -> Any:
    """The club's figures over a period."""
    days = _period()
    board = dv.dashboard(service(), int(v.club_id or 0), days)
    return render("panel/dashboard/dashboard.html", board=board, days=days, periods=dv.PERIODS, **figures(v, board))


def _t(v: Viewer, key: str, **values: object) -> str:
    return i18n.text(key, v.lang, **values)


def _value_name(v: Viewer, kind: str) -> str:
    key = f"value.{kind}"
    return _t(v, key) if key in i18n.MESSAGES else kind


def _amount(v: Viewer, kind: str, value: int) -> str:
    return fmt.number(value, v.lang) if kind in POINT_KINDS else fmt.money(value, v.lang, toman=v.toman)


def figures(v: Viewer, board: dv.Dashboard) -> dict[str, Any]:
    lang = v.lang
    labels = _axis_labels([fmt.jday_label(dt.date(1970, 1, 1) + dt.timedelta(days=d), lang) for d in board.days])
    dates = [fmt.digits(_jdate_of(d), lang) for d in board.days]
    purchases = [a + b for a, b in zip(board.counts("op:purchase"), board.counts("op:completion"))]
    sales = [a + b for a, b in zip(board.amounts("op:purchase"), board.amounts("op:completion"))]
    back = [a + b for a, b in zip(board.amounts("op:refund"), board.amounts("op:reversal"))]
    net = [s - b for s, b in zip(sales, back)]
    issued = [-x for x in board.sum_amounts("b:points_issued:")]
    expired, redeemed = _retired(board)
    total_purchases = sum(purchases)
    stats = {
        "purchases": fmt.number(total_purchases, lang),
        "sales": fmt.money(sum(net), lang, toman=v.toman),
        "refunds": fmt.money(sum(back), lang, toman=v.toman),
        "average": fmt.money(sum(sales) // total_purchases if total_purchases else 0, lang, toman=v.toman),
    }
    s_purchases = charts.Series(_t(v, "dashboard.purchases"), purchases)
    s_net = charts.Series(_t(v, "dashboard.sales"), net)
    trade = Figure("trade", _t(v, "dashboard.purchases_chart"),
                   charts.bars(_t(v, "dashboard.purchases"), labels, [s_purchases], lang), charts.legend([s_purchases]),
                   [_t(v, "dashboard.day"), _t(v, "dashboard.purchases"), _t(v, "dashboard.sales"), _t(v, "dashboard.refunds")],
                   [[(dates[i], False), (fmt.number(purchases[i], lang), True), (fmt.money(net[i], lang, toman=v.toman), True),
                     (fmt.money(back[i], lang, toman=v.toman), True)] for i in range(len(board.days))])
    trade.extra["sales_chart"] = charts.line(_t(v, "dashboard.sales_chart"), labels, [s_net], lang)
    trade.extra["sales_legend"] = charts.legend([s_net])
    point_series = [charts.Series(_t(v, "dashboard.issued"), issued), charts.Series(_t(v, "dashboard.redeemed"), redeemed),
                    charts.Series(_t(v, "dashboard.expired"), expired)]
    points = Figure("points", _t(v, "dashboard.points_chart"), charts.bars(_t(v, "dashboard.points_chart"), labels, point_series, lang),
                    charts.legend(point_series),
                    [_t(v, "dashboard.day"), _t(v, "dashboard.issued"), _t(v, "dashboard.redeemed"), _t(v, "dashboard.expired")],
                    [[(dates[i], False), (fmt.number(issued[i], lang), True), (fmt.number(redeemed[i], lang), True),
                      (fmt.number(expired[i], lang), True)] for i in range(len(board.days))])
    return {"range_first": dates[0], "range_last": dates[-1], "stats": stats, "figures": [trade, points, _liability(v, board), _funders(v, board), _tiers(v, board),
                                        _segments(v, board)], "moves": _moves(v, board), "budget_rows": _budgets(v, board)}


def _axis_labels(labels: list[str], most: int = 6) -> list[str]:
    """At most ``most`` day labels under a chart's axis (the rest blank: the table has every day),
    on the days the chart writes labels under (every ``len // 10``-th)."""
    every = max(1, len(labels) // 10)
    step = every * max(1, -(-len(labels) // every // most))
    return [label if i % step == 0 else "" for i, label in enumerate(labels)]


def _jdate_of(day: int) -> str:
    y, m, d = fmt.jalali(dt.date(1970, 1, 1) + dt.timedelta(days=day))
    return f"{y:04d}/{m:02d}/{d:02d}"


def _retired(board: dv.Dashboard) -> tuple[list[int], list[int]]:
    expired = [0] * len(board.days)
    redeemed = [0] * len(board.days)
    for metric, values in board.series.items():
        if not metric.startswith("b:points_retired:"):
            continue
        op_kind = metric.rsplit(":", 1)[1]
        target = expired if op_kind == "expiry" else None if op_kind in _NOT_REDEEMED else redeemed
        if target is None:
            continue
        for i, (_, amount) in enumerate(values):
            target[i] += amount
    return expired, redeemed


def _liability(v: Viewer, board: dv.Dashboard) -> Figure:
    kinds = [(k, n) for k, n in sorted(board.outstanding.items()) if n]
    rial_kinds = [(k, n) for k, n in kinds if k not in POINT_KINDS]
    series = [charts.Series(_t(v, "dashboard.outstanding"), [max(0, n) for _, n in rial_kinds])]
    chart = charts.bars(_t(v, "dashboard.liability"), [_value_name(v, k) for k, _ in rial_kinds], series, v.lang) if rial_kinds else None
    return Figure("liability", _t(v, "dashboard.liability"), chart, None, [_t(v, "dashboard.kind"), _t(v, "dashboard.outstanding")],
                  [[(_value_name(v, k), False), (_amount(v, k, n), True)] for k, n in kinds], help=_t(v, "dashboard.liability_help"))


def _funders(v: Viewer, board: dv.Dashboard) -> Figure:
    granted = board.funders()
    rows: list[list[tuple[str, bool]]] = []
    rial_by_funder: dict[str, int] = {}
    for funder in sorted(granted):
        for kind, amount in sorted(granted[funder].items()):
            if not amount:
                continue
            rows.append([(_t(v, f"funder.{funder}") if f"funder.{funder}" in i18n.MESSAGES else funder, False),
                         (_value_name(v, kind), False), (_amount(v, kind, amount), True)])
            if kind not in POINT_KINDS:
                rial_by_funder[funder] = rial_by_funder.get(funder, 0) + amount
    names = [_t(v, f"funder.{f}") if f"funder.{f}" in i18n.MESSAGES else f for f in rial_by_funder]
    series = [charts.Series(_t(v, "dashboard.funders"), [max(0, n) for n in rial_by_funder.values()])]
    chart = charts.bars(_t(v, "dashboard.funders"), names, series, v.lang) if rial_by_funder else None
    return Figure("funders", _t(v, "dashboard.funders"), chart, None,
                  [_t(v, "dashboard.funder"), _t(v, "dashboard.kind"), _t(v, "common.amount")], rows, help=_t(v, "dashboard.funders_help"))


def _tier_name(v: Viewer, tier: str) -> str:
    return tier or _t(v, "dashboard.no_tier")


def _tiers(v: Viewer, board: dv.Dashboard) -> Figure:
    names = [_tier_name(v, t) for t, _ in board.tiers]
    series = [charts.Series(_t(v, "dashboard.members"), [n for _, n in board.tiers])]
    chart = charts.bars(_t(v, "dashboard.tiers"), names, series, v.lang) if board.tiers else None
    return Figure("tiers", _t(v, "dashboard.tiers"), chart, None, [_t(v, "dashboard.tier"), _t(v, "dashboard.members")],
                  [[(name, False), (fmt.number(n, v.lang), True)] for name, (_, n) in zip(names, board.tiers)])


SEGMENTS = ("champions", "loyal", "new", "at_risk", "lost", "never")


def _segments(v: Viewer, board: dv.Dashboard) -> Figure:
    counts = [board.segments.get(f"seg:{s}", 0) for s in SEGMENTS]
    names = [_t(v, f"dashboard.seg.{s}") for s in SEGMENTS]
    series = [charts.Series(_t(v, "dashboard.members"), counts)]
    rows = [[(name, False), (fmt.number(n, v.lang), True)] for name, n in zip(names, counts)]
    figure = Figure("segments", _t(v, "dashboard.segments"), charts.bars(_t(v, "dashboard.segments"), names, series, v.lang), None,
                    [_t(v, "dashboard.segment"), _t(v, "dashboard.members")], rows, help=_t(v, "dashboard.segments_help"))
    figure.extra["axes"] = [
        (_t(v, "dashboard.recency"), [(_t(v, f"dashboard.{k}"), fmt.number(board.segments.get(k, 0), v.lang)) for k in ("r1", "r2", "r3", "r0")]),
        (_t(v, "dashboard.frequency"), [(_t(v, f"dashboard.{k}"), fmt.number(board.segments.get(k, 0), v.lang)) for k in ("f1", "f2", "f3", "f0")]),
        (_t(v, "dashboard.monetary"), [(_t(v, f"dashboard.{k}"), fmt.number(board.segments.get(k, 0), v.lang)) for k in ("m1", "m2", "m3")]),
    ]
    return figure


def _moves(v: Viewer, board: dv.Dashboard) -> list[tuple[str, str, str]]:
    return [(_tier_name(v, a), _tier_name(v, b), fmt.number(n, v.lang)) for a, b, n in board.tier_moves]


def _budgets(v: Viewer, board: dv.Dashboard) -> list[dict[str, str]]:
    rows = []
    for b in board.budgets:
        limit = b.limit_rial if b.limit_rial is not None else b.limit_count
        money = b.limit_rial is not None

        def shown(n: int, money: bool = money) -> str:
            return fmt.money(n, v.lang, toman=v.toman) if money else fmt.number(n, v.lang)
        per = f"dashboard.per.{b.period}"
        rows.append({
            "rule": fmt.digits(b.rule_id, v.lang),
            "period": _t(v, per) if per in i18n.MESSAGES else b.period,
            "used": shown(b.used),
            "limit": shown(limit) if limit is not None else _t(v, "dashboard.no_limit"),
            "share": fmt.digits(f"{b.used * 100 // limit}٪" if v.lang == "fa" else f"{b.used * 100 // limit}%", v.lang)
            if limit else "—",
        })
    return rows
