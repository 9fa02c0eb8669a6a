"""The member's operations, newest first, each with why it came out so in the page's language."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from kimia.web.api.routes import members as api_members
from kimia.web.panel import i18n
from kimia.web.panel.access import MEMBER, PORTAL, Viewer
from kimia.web.panel.site import render
from kimia.web.portal import view

i18n.add({
    "nav.portal_history": ("سوابق", "History"),
    "portal.history.title": ("سوابق تراکنش‌ها", "My history"),
    "portal.history.intro": ("هر خرید، بازگشت وجه، تبدیل امتیاز، ووچر و تغییر موجودی شما، با توضیح آن‌چه محاسبه شد.",
                             "Every purchase, refund, conversion, voucher and balance change, with how it was worked out."),
    "portal.history.when": ("زمان", "When"),
    "portal.history.what": ("شرح", "What"),
    "portal.history.where": ("فروشگاه", "Store"),
    "portal.history.amount": ("مبلغ خرید", "Amount"),
    "portal.history.discount": ("تخفیف", "Discount"),
    "portal.history.paid": ("پرداختی", "Paid"),
    "portal.history.credit_used": ("اعتبار خرج‌شده", "Credit used"),
    "portal.history.points_earned": ("امتیاز گرفته‌شده", "Points earned"),
    "portal.history.points_redeemed": ("امتیاز خرج‌شده", "Points spent"),
    "portal.history.refunded": ("بازگشت‌داده‌شده", "Refunded"),
    "portal.history.why": ("چرا این‌طور محاسبه شد", "How it was worked out"),
    "portal.history.empty": ("هنوز تراکنشی ندارید.", "You have no operations yet."),
    "portal.history.first": ("بازگشت به جدیدترین‌ها", "Back to the newest"),
    "portal.op.purchase": ("خرید", "Purchase"),
    "portal.op.hold": ("رزرو اعتبار", "Credit held"),
    "portal.op.completion": ("تکمیل خرید", "Purchase completed"),
    "portal.op.cancel": ("لغو رزرو", "Hold cancelled"),
    "portal.op.refund": ("بازگشت وجه", "Refund"),
    "portal.op.reversal": ("برگشت تراکنش", "Reversal"),
    "portal.op.conversion": ("تبدیل امتیاز به اعتبار", "Points converted to credit"),
    "portal.op.charge": ("شارژ اعتبار", "Credit top-up"),
    "portal.op.voucher": ("خرید ووچر", "Voucher bought"),
    "portal.op.adjustment": ("اصلاح موجودی", "Balance adjustment"),
    "portal.op.expiry": ("انقضا", "Expiry"),
    "portal.op.enroll": ("عضویت در باشگاه", "Joined the club"),
    "portal.op.bind": ("ثبت کارت یا شناسه", "Card or identifier added"),
    "portal.op.other": ("تراکنش", "Operation"),
    "portal.status.held": ("در انتظار", "Pending"),
    "portal.status.completed": ("تکمیل‌شده", "Completed"),
    "portal.status.cancelled": ("لغوشده", "Cancelled"),
    "portal.status.reversed": ("برگشت‌خورده", "Reversed"),
    "portal.status.void": ("باطل", "Void"),
    "portal.status.other": ("وضعیت دیگر", "Other state"),
})

OP_KINDS = ("purchase", "hold", "completion", "cancel", "refund", "reversal", "conversion", "charge", "voucher", "adjustment",
            "expiry", "enroll", "bind")
STATUSES = ("held", "completed", "cancelled", "reversed", "void")


@PORTAL.page("/history", roles=MEMBER, menu=("nav.portal_history", 20))
def history(v: Viewer) -> Any:
    """The member's operations, newest first, paged (``?cursor=``)."""
    ctx, me = v.ctx(), view.member_id(v)
    cursor = request.args.get("cursor")
    found = api_members.history(ctx, me, view.page_query(cursor))
    names = view.merchant_names(ctx, [i.merchant_id for i in found.items], v.lang)
    items = [{
        "op": i, "at": view.ts(i.at), "kind": i.kind if i.kind in OP_KINDS else "other",
        "status": None if i.status == "done" else i.status if i.status in STATUSES else "other",
        "merchant": names.get(i.merchant_id or 0, ""),
        "why": i.explanation_en if v.lang == "en" else i.explanation_fa,
    } for i in found.items]
    next_url = url_for("portal.history.history", cursor=found.next_cursor) if found.next_cursor else None
    return render("portal/history.html", items=items, next_url=next_url, paged=bool(cursor))
