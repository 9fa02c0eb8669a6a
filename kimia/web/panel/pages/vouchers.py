"""Voucher templates and the offers members buy (SPEC V5): what a voucher gives, where, for how
long, at what price in points or rials of credit, and how many were bought and used.

Through the JSON API's handlers (kimia/web/api/routes/vouchers_admin.py, vouchers.py) acting as
the viewer: the club tree's templates; a template of another club is not found.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.web.api.dispatch import parse_model
from kimia.web.api.problems import status_of
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import merchants as merchants_api
from kimia.web.api.routes import vouchers_admin as api
from kimia.web.panel import i18n
from kimia.web.panel.access import CLUB_READ, MARKETING, PANEL, Viewer
from kimia.web.panel.offers_forms import field_errors, form_values
from kimia.web.panel.site import render

FIELDS = ("name_fa", "name_en", "discount_rial", "discount_bp", "cap_rial", "valid_days", "price_points", "price_credit_rial",
          "min_balance", "funder", "reason")
NUMBERS = ("discount_rial", "discount_bp", "cap_rial", "valid_days", "price_points", "price_credit_rial", "min_balance")
FUNDERS = ("club_owner", "merchant", "marketer", "platform")
NOTICES = ("vouchers.created",)

i18n.add({
    "nav.vouchers": ("ووچرها", "Vouchers"),
    "vouchers.title": ("ووچرها و پیشنهادها", "Vouchers and offers"),
    "vouchers.intro": ("قالب ووچر می‌گوید ووچر چه تخفیفی می‌دهد، کجا و تا چند روز؛ قالبی که قیمت دارد پیشنهادی است که اعضا با امتیاز یا اعتبار می‌خرند.",
                       "A voucher template says what a voucher gives, where and for how many days; a template with a price is an "
                       "offer members buy with points or credit."),
    "vouchers.none": ("هنوز قالب ووچری ساخته نشده است.", "No voucher template yet."),
    "vouchers.name": ("نام", "Name"),
    "vouchers.name_fa": ("نام فارسی", "Persian name"),
    "vouchers.name_en": ("نام انگلیسی", "English name"),
    "vouchers.gives": ("تخفیف", "Gives"),
    "vouchers.discount_rial": ("تخفیف ثابت (ریال)", "Fixed discount (rials)"),
    "vouchers.discount_bp": ("تخفیف درصدی (واحد پایه)", "Percentage discount (bp)"),
    "vouchers.discount_hint": ("یکی از این دو را پر کنید؛ ۱۰۰۰ واحد پایه یعنی ۱۰٪.", "Fill one of the two; 1000 bp is 10%."),
    "vouchers.cap_rial": ("سقف تخفیف درصدی (ریال)", "Cap of a percentage discount (rials)"),
    "vouchers.percent": ("{p}٪", "{p}%"),
    "vouchers.up_to": ("تا سقف {cap}", "up to {cap}"),
    "vouchers.valid_days": ("اعتبار (روز)", "Valid for (days)"),
    "vouchers.days": ("{n} روز", "{n} days"),
    "vouchers.price": ("قیمت", "Price"),
    "vouchers.price_points": ("قیمت به امتیاز", "Price in points"),
    "vouchers.price_credit_rial": ("قیمت به اعتبار (ریال)", "Price in credit (rials)"),
    "vouchers.price_hint": ("با امتیاز یا با اعتبار، نه هر دو؛ بدون قیمت، ووچر فقط با قاعده‌ها داده می‌شود.",
                            "Points or credit, not both; without a price the voucher is given by rules only."),
    "vouchers.points": ("{n} امتیاز", "{n} points"),
    "vouchers.not_for_sale": ("فروشی نیست", "Not for sale"),
    "vouchers.min_balance": ("حداقل موجودی پس از خرید (امتیاز)", "Balance to keep after buying (points)"),
    "vouchers.merchants": ("پذیرنده‌ها", "Merchants"),
    "vouchers.merchants_hint": ("هیچ‌کدام را انتخاب نکنید تا در همهٔ پذیرنده‌های باشگاه پذیرفته شود.",
                                "Choose none for every merchant of the club."),
    "vouchers.anywhere": ("همهٔ پذیرنده‌ها", "Every merchant"),
    "vouchers.funder": ("تأمین‌کنندهٔ تخفیف", "Who bears the discount"),
    "vouchers.funder.club_owner": ("مالک باشگاه", "Club owner"),
    "vouchers.funder.merchant": ("پذیرنده", "Merchant"),
    "vouchers.funder.marketer": ("بازاریاب", "Marketer"),
    "vouchers.funder.platform": ("سکو", "Platform"),
    "vouchers.issued": ("فروخته‌شده", "Issued"),
    "vouchers.used": ("استفاده‌شده", "Used"),
    "vouchers.on_sale": ("در فروش", "On sale"),
    "vouchers.create": ("ساخت قالب ووچر", "New voucher template"),
    "vouchers.submit": ("ساخت", "Create"),
    "vouchers.created": ("قالب ووچر ساخته شد.", "The voucher template was created."),
    "vouchers.detail": ("قالب ووچر", "Voucher template"),
    "vouchers.back": ("بازگشت به ووچرها", "Back to vouchers"),
})


def _merchants(v: Viewer) -> dict[int, Any]:
    ctx = v.ctx()
    found: dict[int, Any] = {}
    cursor = None
    while True:
        page = merchants_api.list_merchants(ctx, PageQuery(limit=200, cursor=cursor))
        found.update({m.id: m for m in page.items})
        if not page.next_cursor or len(found) >= 1_000:
            return found
        cursor = page.next_cursor


def _templates(v: Viewer) -> list[api.VoucherTemplateOut]:
    ctx = v.ctx()
    found: list[api.VoucherTemplateOut] = []
    cursor = None
    while len(found) < 1_000:
        page = api.list_templates(ctx, PageQuery(limit=200, cursor=cursor))
        found += page.items
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    return found


def _page(v: Viewer, *, errors: dict[str, str] | None = None, typed: dict[str, Any] | None = None,
          chosen: list[int] | None = None, status: int = 200) -> Any:
    notice = request.args.get("notice")
    return render("panel/vouchers/vouchers.html", status=status, templates=_templates(v), merchants=_merchants(v),
                  errors=errors or {}, typed=typed or {}, chosen=chosen or [], funders=FUNDERS, may_change=v.can(MARKETING),
                  notice=notice if notice in NOTICES else None)


@PANEL.page("/vouchers", roles=CLUB_READ, menu=("nav.vouchers", 45))
def vouchers(v: Viewer) -> Any:
    """The club's voucher templates (offers when they have a price), with how many were bought and used."""
    return _page(v)


@PANEL.page("/vouchers/<int:template_id>", roles=CLUB_READ)
def template(v: Viewer, template_id: int) -> Any:
    """One template: what it gives, where, its price, issued and used."""
    found = api.get_template(v.ctx(), template_id)
    return render("panel/vouchers/template.html", t=found, merchants=_merchants(v))


@PANEL.page("/vouchers/create", roles=MARKETING, methods=("POST",))
def create(v: Viewer) -> Any:
    """Make a template (POST /voucher-templates), audited with the viewer and the reason."""
    typed = form_values(FIELDS, numbers=NUMBERS)
    chosen_text = request.form.getlist("merchants")
    try:
        chosen = []
        for value in chosen_text:
            if not value.isdigit():
                raise reject("field_invalid", path="merchants", detail="a merchant of the club")
            chosen.append(int(value))
        body = {**typed, "merchants": chosen}
        api.create_template(v.ctx(), parse_model(api.VoucherTemplateIn, body))
    except KimiaError as error:
        if error.path and error.path.startswith("merchants"):
            error.path = "merchants"
        if error.path == "price":
            error.path = "price_points"
        errors = field_errors(error, v.lang, [*FIELDS, "merchants"])
        return _page(v, errors=errors, typed=typed, chosen=[int(c) for c in chosen_text if c.isdigit()], status=status_of(error.code))
    return redirect(url_for("panel.vouchers.vouchers", notice="vouchers.created"))
