"""The cash extra's panel pages.

- Cash book (merchant staff): record an expense or a cash receipt, the day's entries with their
  totals, void a wrong entry with a reason.
- Categories (merchant staff: their own, beside the club's; club admins: the club's shared ones).
- Income report (merchant staff: their merchant; club staff: any merchant of their club): card
  sales seen by kimia, cash receipts, expenses per category and the net, per day and over a
  period, with a bar chart and a CSV.

Every write is keyed by its form's key (a double submit is one write) and answered by a redirect;
bad input is shown at its field and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimia.extras.cash import book
from kimia.plugins.types import MenuEntry, MerchantInfo, PageCall, PanelPage, RawAnswer, Refusal
from kimia.web.panel import fmt

MERCHANT = frozenset({"merchant"})
CLUB_READ = frozenset({"admin", "marketer", "support", "read_only"})
CATEGORY_ROLES = frozenset({"merchant", "admin"})
#: The entries of one day the cash book shows (a shop records a few dozen).
DAY_LIMIT = 500


def _key(call: PageCall) -> str:
    """The posted form's key, scoped to the person (two people's keys never meet)."""
    return f"panel:{call.caller.actor}:{call.posted_form_key()}"


def _amount(text: str) -> int | None:
    """An amount a person typed: Persian digits, thousands separators and spaces allowed."""
    cleaned = fmt.latin_digits(text).replace("٬", "").replace(",", "").replace(" ", "").strip()
    if not cleaned:
        return None
    if not cleaned.isdigit() or len(cleaned) > 18:
        raise Refusal("field_invalid", path="amount_rial", detail=("a whole number of rials", "عددی صحیح به ریال"))
    return int(cleaned)


def _label(day: dt.date, lang: str) -> str:
    """A day as the pages write it: 1405/09/16 (Persian digits in Persian)."""
    return book.jalali_text(day, lang)


def _typed_day(day: dt.date) -> str:
    """A day as a Jalali date field holds it, in Latin digits (1405/09/16)."""
    return book.jalali_text(day, "en")


# --- the cash book ----------------------------------------------------------------------------------


def _own_merchant(call: PageCall) -> MerchantInfo:
    return book.merchant_for(call.services, call.caller, call.caller.merchant_id)


def _book_page(call: PageCall, *, errors: Mapping[str, str] | None = None, form: Mapping[str, str] | None = None,
               void_id: int | None = None) -> Any:
    m = _own_merchant(call)
    book.ensure_defaults(call.services, m.root_club_id)
    today = book.today_of(call.services, m.club_id)
    errors = dict(errors or {})
    typed = (call.query.get("day") or "").strip()
    shown = today
    if typed:
        try:
            shown = book.parse_day(typed, "show_day")
        except Exception as exc:
            errors.update(call.errors_of(exc))
    number = book.day_number(shown)
    categories = call.services.read(lambda db: book.merchant_categories(db, m))
    entries = call.services.read(lambda db: book.list_entries(db, club_id=None, merchant_id=m.id, first=number, last=number,
                                                              kind=None, before_id=None, limit=DAY_LIMIT))
    totals = {kind: sum(e.amount_rial for e in entries if e.kind == kind and not e.voided) for kind in book.KINDS}
    lang = call.caller.lang
    return call.render(
        "cash/book.html", status=422 if call.method == "POST" else 200, merchant=m.name_en if lang == "en" else m.name_fa, entries=entries, totals=totals,
        expense_categories=[c for c in categories if c.kind == "expense"],
        receipt_categories=[c for c in categories if c.kind == "receipt"],
        day_label=_label(shown, lang), day_value=_label(shown, lang) if shown != today else "", is_today=shown == today,
        errors=errors, form=dict(form or {}), form_key=call.form_key(), void_id=void_id,
        notice="cash.recorded" if call.query.get("done") == "recorded" else
        "cash.voided_notice" if call.query.get("done") == "voided" else None,
    )


def book_page(call: PageCall) -> Any:
    return _book_page(call)


def record(call: PageCall) -> Any:
    """Record what the form says; back to the book of the entry's day."""
    form = call.form
    kind = form.get("kind", "")
    try:
        if kind not in book.KINDS:
            raise Refusal("field_invalid", path="kind", detail=("expense or receipt", "هزینه یا دریافت"))
        m = _own_merchant(call)
        day_text = form.get("day", "").strip()
        category = form.get(f"category_{kind}", "").strip()
        if category and not category.isdigit():
            raise Refusal("field_invalid", path="category_id", detail=("a category of the list", "یکی از دسته‌های فهرست"))
        new = book.NewEntry(kind, _amount(form.get("amount_rial", "")), category_id=int(category) if category else None,
                            note=form.get("note", ""), day=book.parse_day(day_text, "day") if day_text else None,
                            paths={"category": "category_id"})
        entry = book.record(call.services, m, new, source="panel", idem_key=_key(call), actor=call.caller.actor)
    except Exception as exc:
        return _book_page(call, errors=call.errors_of(exc), form=form)
    return call.redirect(call.url_for("panel.cash.book", day=_typed_day(book.day_date(entry.day)), done="recorded"))


def void(call: PageCall) -> Any:
    """Void an entry with the reason typed beside it."""
    entry_id = int(call.params["entry_id"])
    try:
        entry = book.void(call.services, call.caller, entry_id, call.form.get("reason", ""), idem_key=_key(call))
    except Exception as exc:
        if getattr(exc, "code", None) == "not_found":  # not theirs, or no such entry: 404, as the API answers it
            raise
        errors = call.errors_of(exc)
        if "entry_id" in errors:  # voided already: shown beside the entry
            errors[""] = errors.pop("entry_id")
        return _book_page(call, errors=errors, form=call.form, void_id=entry_id)
    return call.redirect(call.url_for("panel.cash.book", day=_typed_day(book.day_date(entry.day)), done="voided"))


# --- categories ------------------------------------------------------------------------------------------


def _categories_page(call: PageCall, *, errors: Mapping[str, str] | None = None, form: Mapping[str, str] | None = None) -> Any:
    caller = call.caller
    if caller.merchant_id is not None:
        m = _own_merchant(call)
        book.ensure_defaults(call.services, m.root_club_id)
        own = call.services.read(lambda db: book.own_categories(db, m.id))
        shared = call.services.read(lambda db: [c for c in book.merchant_categories(db, m) if c.merchant_id is None])
        editable, fixed = own, shared
    else:
        club_id = caller.club_id
        assert club_id is not None
        book.ensure_defaults(call.services, club_id)
        editable, fixed = call.services.read(lambda db: book.club_categories(db, club_id)), []
    return call.render("cash/categories.html", status=422 if call.method == "POST" else 200, editable=editable, fixed=fixed, errors=dict(errors or {}), form=dict(form or {}),
                       form_key=call.form_key(), is_merchant=caller.merchant_id is not None,
                       notice="cash.category_saved" if call.query.get("done") else None)


def categories(call: PageCall) -> Any:
    if call.method != "POST":
        return _categories_page(call)
    caller = call.caller
    try:
        new = book.read_new_category(call.form)
        key = _key(call)
        if caller.merchant_id is not None:
            m = _own_merchant(call)
            club_id, merchant_id = m.root_club_id, m.id
        else:
            assert caller.club_id is not None
            club_id, merchant_id = caller.club_id, None
        now = call.services.now()
        call.services.write(lambda db: book.create_category(db, club_id=club_id, merchant_id=merchant_id, new=new,
                                                            idem_key=f"cash:category:{key}", actor=caller.actor, now=now))
    except Exception as exc:
        return _categories_page(call, errors=call.errors_of(exc), form=call.form)
    return call.redirect(call.url_for("panel.cash.categories", done="1"))


def switch_category(call: PageCall) -> Any:
    """Disable a category, or enable it again (``active`` = 0 or 1)."""
    caller = call.caller
    category_id = int(call.params["category_id"])
    active = call.form.get("active") == "1"
    book.set_active(call.services, caller, category_id, active=active)
    return call.redirect(call.url_for("panel.cash.categories", done="1"))


# --- the income report ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One day's two bars in the chart, income then expenses (SVG coordinates computed here: no
    script, no inline style)."""

    x: float
    w: float
    label_x: float
    label: str
    income_y: int
    income_h: int
    expense_y: int
    expense_h: int
    title: str


CHART_W, CHART_H = 720, 160


def chart(days: list[book.Day], lang: str) -> list[Bar]:
    """Each day's income (card sales less refunds, and cash receipts) beside its expenses, scaled
    to the largest; a day of the month under each bar when the period is a month or less."""
    if not days:
        return []
    top = max([d.card_net_rial + d.receipts_rial for d in days] + [d.expenses_rial for d in days] + [1])
    step = CHART_W / len(days)
    width = round(max(step * 0.4, 0.5), 2)
    bars = []
    for i, d in enumerate(days):
        income = max(d.card_net_rial + d.receipts_rial, 0)
        ih = round(CHART_H * income / top)
        eh = round(CHART_H * d.expenses_rial / top)
        _, _, day_of_month = fmt.jalali(d.day)
        label = fmt.digits(day_of_month, lang) if len(days) <= 31 else ""
        title = f"{_label(d.day, lang)}: {fmt.money(income, lang)} / {fmt.money(d.expenses_rial, lang)}"
        slot = len(days) - 1 - i if lang == "fa" else i  # time runs the way the page reads
        x = round(slot * step + step * 0.1, 2)
        bars.append(Bar(x, width, round(slot * step + step / 2, 2), label, CHART_H - ih, ih, CHART_H - eh, eh, title))
    return bars


def _report_merchant(call: PageCall) -> tuple[MerchantInfo, list[MerchantInfo]]:
    """The merchant of the report: merchant staff's own; for club staff ``?merchant_id=`` (the
    first of their club's merchants by default) and the list to choose from."""
    caller = call.caller
    wanted = (call.query.get("merchant_id") or "").strip()
    if wanted and (not wanted.isdigit() or len(wanted) > 18):
        raise Refusal("unknown_merchant", path="merchant_id")
    if caller.merchant_id is not None:  # their own; another merchant's is unknown to them
        return book.merchant_for(call.services, caller, int(wanted) if wanted else None), []
    assert caller.club_id is not None
    choices = call.services.merchants(caller.club_id)
    if wanted:
        return book.merchant_for(call.services, caller, int(wanted)), choices
    if not choices:
        raise Refusal("not_found", path="merchant_id", what=("merchant", "پذیرنده‌ا"))
    return choices[0], choices


def _report(call: PageCall) -> tuple[MerchantInfo, list[MerchantInfo], book.Report | None, dict[str, str]]:
    m, choices = _report_merchant(call)
    today = book.today_of(call.services, m.club_id)
    try:
        first, last = book.period(call.query, today)
    except Exception as exc:
        return m, choices, None, call.errors_of(exc)
    return m, choices, book.income(call.services, m, first, last), {}


def income(call: PageCall) -> Any:
    m, choices, report, errors = _report(call)
    lang = call.caller.lang
    query = {k: v for k, v in call.query.items() if k in ("merchant_id", "from", "to")}
    return call.render(
        "cash/income.html", merchant=m, merchant_name=m.name_en if lang == "en" else m.name_fa, choices=choices, report=report,
        errors=errors, bars=chart(report.days, lang) if report else [], chart_w=CHART_W, chart_h=CHART_H,
        labels=[_label(d.day, lang) for d in report.days] if report else [],
        from_value=call.query.get("from") or (_label(report.first, lang) if report else ""),
        to_value=call.query.get("to") or (_label(report.last, lang) if report else ""),
        period=f"{_label(report.first, lang)} – {_label(report.last, lang)}" if report else "",
        csv_url=call.url_for("panel.cash.income_csv", **query),
    )


def income_csv(call: PageCall) -> Any:
    m, _ = _report_merchant(call)
    first, last = book.period(call.query, book.today_of(call.services, m.club_id))  # bad dates: the error page
    report = book.income(call.services, m, first, last)
    return RawAnswer(report.csv(), filename=f"income-{m.id}-{report.first.isoformat()}-{report.last.isoformat()}.csv")


PAGES = [
    PanelPage("panel", "/cash", "book", book_page, MERCHANT, menu=MenuEntry("دفتر صندوق", "Cash book", 160)),
    PanelPage("panel", "/cash/entries", "record", record, MERCHANT, methods=("POST",)),
    PanelPage("panel", "/cash/entries/<int:entry_id>/void", "void", void, MERCHANT, methods=("POST",)),
    PanelPage("panel", "/cash/income", "income", income, MERCHANT | CLUB_READ,
              menu=MenuEntry("گزارش درآمد روزانه", "Daily income", 161)),
    PanelPage("panel", "/cash/income.csv", "income_csv", income_csv, MERCHANT | CLUB_READ),
    PanelPage("panel", "/cash/categories", "categories", categories, CATEGORY_ROLES, methods=("GET", "POST"),
              menu=MenuEntry("دسته‌های هزینه و دریافت", "Cash categories", 162)),
    PanelPage("panel", "/cash/categories/<int:category_id>/switch", "switch_category", switch_category, CATEGORY_ROLES,
              methods=("POST",)),
]
