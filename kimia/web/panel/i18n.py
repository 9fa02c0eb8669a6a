"""The panel's and portal's words in Persian and English.

Each area keeps its own words beside its pages and adds them once at import with :func:`add`
(a key given twice is an error, so two areas cannot quietly overwrite each other); templates call
``_("key", name=value)``. Persian is the default language; ``?lang=en`` (the switch in every
page's header) keeps the choice in a cookie. Error messages come from the error catalogue, which
has both languages already (kimia.errors).

Keys are ``area.what`` (``members.search``). A test checks that every key a template names exists
and that both languages have every key.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["fa", "en"]
LANGS: tuple[Lang, ...] = ("fa", "en")
DEFAULT_LANG: Lang = "fa"

#: key -> (Persian, English)
MESSAGES: dict[str, tuple[str, str]] = {}


def add(words: dict[str, tuple[str, str]]) -> None:
    """Add an area's words; ``ValueError`` on a key already there or a missing language."""
    for key, pair in words.items():
        if key in MESSAGES and MESSAGES[key] != pair:
            raise ValueError(f"panel words: {key!r} is defined twice")
        if len(pair) != 2 or not all(pair):
            raise ValueError(f"panel words: {key!r} needs Persian and English")
        MESSAGES[key] = pair


def text(key: str, lang: str, **values: object) -> str:
    """The words of ``key`` in ``lang``, with ``{name}`` filled from ``values``. An unknown key
    shows itself (a test fails on any a template uses)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    chosen = pair[1] if lang == "en" else pair[0]
    return chosen.format(**values) if values else chosen


def lang_of(value: str | None) -> Lang:
    return "en" if value == "en" else "fa"


add({
    "app.name": ("کیمیا", "kimia"),
    "app.panel": ("پنل باشگاه مشتریان", "Customer club panel"),
    "app.portal": ("باشگاه من", "My club"),
    "nav.home": ("پیشخوان", "Dashboard"),
    "nav.signout": ("خروج", "Sign out"),
    "nav.language": ("English", "فارسی"),
    "nav.toman": ("نمایش به تومان", "Show in toman"),
    "nav.rial": ("نمایش به ریال", "Show in rials"),
    "nav.menu": ("منو", "Menu"),
    "nav.skip": ("پرش به محتوا", "Skip to content"),
    "auth.title": ("ورود به پنل", "Sign in to the panel"),
    "auth.login": ("نام کاربری", "User name"),
    "auth.password": ("گذرواژه", "Password"),
    "auth.submit": ("ورود", "Sign in"),
    "auth.signed_out": ("از پنل خارج شدید.", "You have signed out."),
    "auth.expired": ("نشست شما به پایان رسیده است؛ دوباره وارد شوید.", "Your session has ended; sign in again."),
    "role.platform": ("اپراتور سکو", "Platform operator"),
    "role.admin": ("مدیر باشگاه", "Club admin"),
    "role.marketer": ("بازاریاب", "Marketer"),
    "role.support": ("پشتیبانی", "Support"),
    "role.read_only": ("فقط خواندنی", "Read-only"),
    "role.merchant": ("کارکنان پذیرنده", "Merchant staff"),
    "role.member": ("عضو", "Member"),
    "error.title": ("خطا", "Error"),
    "error.forbidden": ("دسترسی به این صفحه را ندارید.", "You may not open this page."),
    "error.not_found": ("این صفحه پیدا نشد.", "This page was not found."),
    "error.back": ("بازگشت به پیشخوان", "Back to the dashboard"),
    "error.code": ("کد خطا", "Error code"),
    "common.save": ("ذخیره", "Save"),
    "common.cancel": ("انصراف", "Cancel"),
    "common.search": ("جستجو", "Search"),
    "common.reason": ("دلیل", "Reason"),
    "common.next": ("بعدی", "Next"),
    "common.none": ("موردی نیست.", "Nothing here yet."),
    "common.rial": ("ریال", "rials"),
    "common.toman": ("تومان", "tomans"),
    "common.date": ("تاریخ", "Date"),
    "common.amount": ("مبلغ", "Amount"),
    "common.name": ("نام", "Name"),
    "common.actions": ("اقدام‌ها", "Actions"),
    "common.csv": ("دریافت CSV", "Download CSV"),
    "common.done": ("انجام شد.", "Done."),
})
