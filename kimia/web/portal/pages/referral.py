"""The member's referral code (made the first time they ask) and how introducing a friend works."""

from __future__ import annotations

from typing import Any

from kimia.web.api.routes import members as api_members
from kimia.web.panel import i18n
from kimia.web.panel.access import MEMBER, PORTAL, Viewer
from kimia.web.panel.site import render
from kimia.web.portal import view

i18n.add({
    "nav.portal_referral": ("معرفی به دوستان", "Invite friends"),
    "portal.referral.title": ("معرفی به دوستان", "Invite friends"),
    "portal.referral.your_code": ("کد معرفی شما", "Your referral code"),
    "portal.referral.since": ("ساخته‌شده در {date}", "Made on {date}"),
    "portal.referral.how": ("چطور کار می‌کند؟", "How does it work?"),
    "portal.referral.step1": ("این کد را برای دوستانتان بفرستید.", "Send this code to your friends."),
    "portal.referral.step2": ("دوستتان هنگام عضویت در باشگاه، در فروشگاه یا اپلیکیشن، این کد را به‌عنوان کد معرف می‌دهد.",
                              "Your friend gives it as the referral code when they join the club, at a store or in the app."),
    "portal.referral.step3": ("از خریدهای دوستتان، طبق قوانین باشگاه به شما امتیاز می‌رسد؛ آن را در سوابق خود می‌بینید.",
                              "When your friend buys, you earn what the club's rules give for it; you see it in your history."),
})


@PORTAL.page("/referral", roles=MEMBER, menu=("nav.portal_referral", 40))
def referral(v: Viewer) -> Any:
    """The member's referral code (the API makes it on first ask) and how it works."""
    code = api_members.referral_code(v.ctx(), view.member_id(v))
    return render("portal/referral.html", code=code.code, created=view.ts(code.created))
