"""The club's voucher offers a member may buy with points or credit, buying one (once per form,
however often it is sent), and the member's vouchers with the codes they give at the counter."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError
from kimia.identifiers import normalize_digits
from kimia.web.api.dispatch import parse_model
from kimia.web.api.problems import status_of
from kimia.web.api.routes import vouchers as api_vouchers
from kimia.web.api.routes.vouchers import BuyVoucherIn, VoucherQuery
from kimia.web.panel import i18n
from kimia.web.panel.access import MEMBER, PORTAL, Viewer, error_fields, posted_form_key
from kimia.web.panel.site import render
from kimia.web.portal import view

i18n.add({
    "nav.portal_vouchers": ("ووچرها", "Vouchers"),
    "portal.vouchers.title": ("ووچرهای من", "My vouchers"),
    "portal.vouchers.offers": ("ووچرهای قابل خرید", "Vouchers you can buy"),
    "portal.vouchers.offers_none": ("باشگاه فعلاً ووچری برای فروش ندارد.", "The club has no vouchers for sale right now."),
    "portal.vouchers.mine": ("ووچرهای شما", "Your vouchers"),
    "portal.vouchers.mine_none": ("هنوز ووچری ندارید.", "You have no vouchers yet."),
    "portal.vouchers.how": ("کد ووچر را هنگام پرداخت به فروشنده بگویید یا نشان دهید.",
                            "Give the voucher's code to the cashier when you pay."),
    "portal.vouchers.discount": ("تخفیف", "Discount"),
    "portal.vouchers.off_rial": ("{amount} تخفیف", "{amount} off"),
    "portal.vouchers.off_percent": ("{percent}٪ تخفیف", "{percent}% off"),
    "portal.vouchers.cap": ("تا سقف {amount}", "up to {amount}"),
    "portal.vouchers.price": ("قیمت", "Price"),
    "portal.vouchers.price_points": ("{points} امتیاز", "{points} points"),
    "portal.vouchers.keep": ("پس از خرید باید دست‌کم {points} امتیاز برایتان بماند", "You must keep at least {points} points after buying"),
    "portal.vouchers.valid_days": ("اعتبار: {days} روز پس از خرید", "Valid {days} days after buying"),
    "portal.vouchers.where_all": ("در همهٔ فروشگاه‌های باشگاه", "At every store of the club"),
    "portal.vouchers.where_some": ("فقط در: {names}", "Only at: {names}"),
    "portal.vouchers.buy": ("خرید", "Buy"),
    "portal.vouchers.confirm": ("این ووچر خریده شود؟", "Buy this voucher?"),
    "portal.vouchers.bought": ("ووچر خریده شد؛ کد آن در فهرست ووچرهای شماست.", "Voucher bought: its code is in your vouchers below."),
    "portal.vouchers.code": ("کد", "Code"),
    "portal.vouchers.name": ("ووچر", "Voucher"),
    "portal.vouchers.state": ("وضعیت", "State"),
    "portal.vouchers.valid_to": ("معتبر تا", "Valid until"),
    "portal.vouchers.state_active": ("قابل استفاده", "Ready to use"),
    "portal.vouchers.state_used": ("استفاده‌شده", "Used"),
    "portal.vouchers.state_expired": ("منقضی", "Expired"),
})

NOTICES = ("portal.vouchers.bought",)


@PORTAL.page("/vouchers", roles=MEMBER, menu=("nav.portal_vouchers", 30))
def vouchers(v: Viewer) -> Any:
    """The offers to buy and the member's own vouchers (``?cursor=`` pages the latter)."""
    notice = request.args.get("notice")
    return _page(v, notice=notice if notice in NOTICES else None)


@PORTAL.page("/vouchers/buy", roles=MEMBER, methods=("POST",))
def buy(v: Viewer) -> Any:
    """Buy an offer with the member's points or credit: the form's key makes a double submit one
    purchase. A refusal (too few points, say) shows on the page; an offer that is not of the
    member's club is not found (404)."""
    me = view.member_id(v)
    try:
        raw = normalize_digits(request.form.get("template_id", ""))[:20]
        body = parse_model(BuyVoucherIn, {"template_id": int(raw) if raw.isdigit() else raw or None})
        api_vouchers.buy_voucher(v.ctx(idem_key=posted_form_key()), me, body)
    except KimiaError as refused:
        if refused.code == "unknown_voucher_template":
            raise
        return _page(v, errors=error_fields(refused, v.lang), failed=request.form.get("template_id", ""),
                     status=status_of(refused.code))
    return redirect(url_for("portal.vouchers.vouchers", notice="portal.vouchers.bought"))


def _page(v: Viewer, *, notice: str | None = None, errors: dict[str, str] | None = None, failed: str = "", status: int = 200) -> Any:
    ctx, me = v.ctx(), view.member_id(v)
    offers = api_vouchers.offers(ctx, view.page_query(None, 100)).items
    cursor = request.args.get("cursor")
    mine = api_vouchers.member_vouchers(ctx, me, VoucherQuery(limit=view.PAGE_SIZE, cursor=cursor or None))
    names = view.merchant_names(ctx, [m for o in offers for m in o.merchant_ids] + [m for x in mine.items for m in x.merchant_ids], v.lang)
    next_url = url_for("portal.vouchers.vouchers", cursor=mine.next_cursor) if mine.next_cursor else None
    owned = [{"v": x, "valid_to": view.ts(x.valid_to), "where": [names.get(m, "") for m in x.merchant_ids],
              "pct": f"{x.discount_bp / 100:g}"} for x in mine.items]
    listed = [{"o": o, "where": [names.get(m, "") for m in o.merchant_ids], "pct": f"{o.discount_bp / 100:g}"} for o in offers]
    if errors and failed not in {str(o.template_id) for o in offers}:  # not an offer listed: said above the list
        errors = {"": " ".join(errors.values())}
    return render("portal/vouchers.html", status=status, offers=listed, owned=owned, next_url=next_url, notice=notice,
                  errors=errors or {}, failed=failed)
