"""The member's profile: their name, how they are known (identifiers masked as the API shows
them), their tier and groups, and their language and money-unit preferences."""

from __future__ import annotations

from typing import Any

from kimia.web.api.routes import members as api_members
from kimia.web.panel import i18n
from kimia.web.panel.access import MEMBER, PORTAL, Viewer
from kimia.web.panel.site import render
from kimia.web.portal import view

i18n.add({
    "nav.portal_profile": ("مشخصات من", "My profile"),
    "portal.profile.title": ("مشخصات من", "My profile"),
    "portal.profile.name": ("نام", "Name"),
    "portal.profile.no_name": ("ثبت نشده", "Not given"),
    "portal.profile.account": ("شمارهٔ حساب باشگاه", "Club account number"),
    "portal.profile.member_since": ("عضو از", "Member since"),
    "portal.profile.purchases": ("تعداد خریدها", "Purchases"),
    "portal.profile.last_purchase": ("آخرین خرید", "Last purchase"),
    "portal.profile.groups": ("گروه‌ها", "Groups"),
    "portal.profile.identifiers": ("شناسه‌های شما", "How the club knows you"),
    "portal.profile.identifiers_note": ("برای امنیت، شمارهٔ کارت‌ها فقط با چهار رقم آخر نشان داده می‌شود.",
                                        "For your safety, cards show only their last four digits."),
    "portal.profile.added": ("ثبت‌شده در", "Added"),
    "portal.profile.change_note": ("برای تغییر نام یا شناسه‌ها به یکی از فروشگاه‌های باشگاه مراجعه کنید.",
                                   "To change your name or identifiers, ask at one of the club's stores."),
    "portal.profile.preferences": ("ترجیحات نمایش", "Display preferences"),
    "portal.profile.language": ("زبان", "Language"),
    "portal.profile.money": ("نمایش مبالغ", "Show amounts in"),
    "portal.profile.current": ("(انتخاب فعلی)", "(current)"),
    "portal.id.card": ("کارت بانکی", "Bank card"),
    "portal.id.mobile": ("موبایل", "Mobile"),
    "portal.id.national_code": ("کد ملی", "National code"),
    "portal.id.club_card": ("کارت باشگاه", "Club card"),
    "portal.id.account": ("شمارهٔ حساب", "Account number"),
    "portal.id.other": ("شناسه", "Identifier"),
    "portal.lang.fa": ("فارسی", "Persian (فارسی)"),
    "portal.lang.en": ("انگلیسی (English)", "English"),
})

ID_KINDS = ("card", "mobile", "national_code", "club_card", "account")


@PORTAL.page("/profile", roles=MEMBER, menu=("nav.portal_profile", 50))
def profile(v: Viewer) -> Any:
    """The member's profile and display preferences (the language and money switches persist)."""
    found = api_members.member(v.ctx(), view.member_id(v))
    identifiers = [{"kind": i.kind if i.kind in ID_KINDS else "other", "display": i.display, "added": view.ts(i.created)}
                   for i in found.identifiers]
    return render("portal/profile.html", p=found, identifiers=identifiers, created=view.ts(found.created),
                  last_purchase=view.ts(found.last_purchase))
