"""The platform operator's pages (SPEC C1, C2, C6): every root club with its owner and size, new
owners and clubs, a club's first admin user, and the fee tariffs per business type. Through the
platform endpoints of kimia/web/api/routes/clubs.py acting as the platform key; the first admin is
a panel user (kimia.service.staff)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import directory_views, staff
from kimia.web.api.dispatch import parse_model
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import clubs as routes
from kimia.web.panel import fmt, i18n
from kimia.web.panel.access import PANEL, PLATFORM, Viewer, error_fields, service
from kimia.web.panel.pages.structure import club_id_of, form
from kimia.web.panel.site import render

i18n.add({
    "nav.clubs": ("باشگاه‌ها", "Clubs"),
    "nav.tariffs": ("تعرفه‌های کارمزد", "Fee tariffs"),
    "platform.clubs": ("باشگاه‌های سکو", "The platform's clubs"),
    "platform.club": ("باشگاه", "Club"),
    "platform.owner": ("باشگاه‌دار", "Owner"),
    "platform.members": ("اعضا", "Members"),
    "platform.merchants": ("پذیرندگان", "Merchants"),
    "platform.sub_clubs": ("زیرباشگاه‌ها", "Sub-clubs"),
    "platform.business_type": ("نوع کسب‌وکار", "Business type"),
    "platform.created": ("تاریخ ایجاد", "Created"),
    "platform.new_owner": ("باشگاه‌دار تازه", "New owner"),
    "platform.new_club": ("باشگاه تازه", "New club"),
    "platform.first_admin": ("مدیر باشگاه", "A club's admin"),
    "platform.first_admin_hint": ("کاربر پنل با نقش مدیر برای باشگاه؛ او باقی کاربران و کلیدها را می‌سازد.",
                                  "A panel user with the admin role for a club; they make the club's other users and keys."),
    "platform.name_fa": ("نام فارسی", "Name in Persian"),
    "platform.name_en": ("نام انگلیسی", "Name in English"),
    "platform.sheba": ("شماره شبا", "Sheba number"),
    "platform.login": ("نام کاربری", "User name"),
    "platform.person": ("نام و نام خانوادگی", "Full name"),
    "platform.password": ("گذرواژهٔ اولیه", "Initial password"),
    "platform.create": ("ایجاد", "Create"),
    "platform.owner_created": ("باشگاه‌دار افزوده شد.", "The owner was added."),
    "platform.club_created": ("باشگاه ساخته شد.", "The club was made."),
    "platform.admin_created": ("مدیر باشگاه ساخته شد.", "The club's admin was made."),
    "platform.tariffs": ("تعرفه‌های کارمزد", "Fee tariffs"),
    "platform.tariff_type": ("نوع کسب‌وکار", "Business type"),
    "platform.tariff_default": ("پیش‌فرض (همهٔ انواع دیگر)", "Default (every other type)"),
    "platform.percent": ("درصد کارمزد", "Fee percent"),
    "platform.percent_hint": ("به صدم درصد: ۱۵۰ یعنی ۱٫۵٪", "In hundredths of a percent: 150 is 1.5%"),
    "platform.fixed": ("مبلغ ثابت (ریال)", "Fixed amount (rials)"),
    "platform.cap": ("سقف کارمزد (ریال)", "Fee cap (rials)"),
    "platform.no_cap": ("بدون سقف", "No cap"),
    "platform.set_tariff": ("ثبت تعرفه", "Set the tariff"),
    "platform.tariff_set": ("تعرفه ثبت شد.", "The tariff was set."),
    "platform.tariff_help": ("برای تغییر یک تعرفه، همان نوع کسب‌وکار را دوباره ثبت کنید؛ نوع خالی یعنی تعرفهٔ پیش‌فرض.",
                             "To change a tariff, set the same business type again; an empty type is the default tariff."),
})

NOTICES = ("platform.owner_created", "platform.club_created", "platform.admin_created", "platform.tariff_set")
ALL = PageQuery(limit=200)


def _notice() -> str | None:
    wanted = request.args.get("notice")
    return wanted if wanted in NOTICES else None


def _clubs(v: Viewer, errors: dict[str, str] | None = None, form_name: str = "", posted: dict[str, Any] | None = None,
           status: int = 200) -> Any:
    ctx = v.ctx()
    query = parse_model(PageQuery, {"limit": 100, **({"cursor": request.args["cursor"]} if request.args.get("cursor") else {})})
    page = routes.list_clubs(ctx, query)
    owners = routes.list_owners(ctx, ALL).items
    names = directory_views.owner_names(ctx.svc, [c.owner_id for c in page.items])
    counts = directory_views.root_club_counts(ctx.svc, [c.id for c in page.items])
    next_url = url_for("panel.platform.clubs", cursor=page.next_cursor) if page.next_cursor else None
    return render("panel/platform/clubs.html", status=status, clubs=page.items, owners=owners, owner_names=names, counts=counts,
                  next_url=next_url, errors=errors or {}, form_name=form_name, posted=posted or {}, notice=_notice())


@PANEL.page("/platform/clubs", roles=PLATFORM, menu=("nav.clubs", 10))
def clubs(v: Viewer) -> Any:
    """Every root club with its owner, members and merchants; new owners, clubs and admins."""
    return _clubs(v)


@PANEL.page("/platform/owners", roles=PLATFORM, methods=("POST",))
def create_owner(v: Viewer) -> Any:
    data = form("name_fa", "name_en", "sheba")
    try:
        routes.create_owner(v.ctx(), parse_model(routes.OwnerIn, data))
    except KimiaError as error:
        return _clubs(v, error_fields(error, v.lang), "owner", data, 400)
    return redirect(url_for("panel.platform.clubs", notice="platform.owner_created"))


@PANEL.page("/platform/clubs", roles=PLATFORM, methods=("POST",), endpoint="platform.create_club")
def create_club(v: Viewer) -> Any:
    data = form("owner_id", "name_fa", "name_en", "business_type")
    try:
        owner = club_id_of(data.get("owner_id"), "owner_id")
        if owner is None:
            raise reject("field_required", path="owner_id")
        routes.create_club(v.ctx(), parse_model(routes.RootClubIn, {**data, "owner_id": owner}))
    except KimiaError as error:
        return _clubs(v, error_fields(error, v.lang), "club", data, 400)
    return redirect(url_for("panel.platform.clubs", notice="platform.club_created"))


@PANEL.page("/platform/admins", roles=PLATFORM, methods=("POST",))
def create_admin(v: Viewer) -> Any:
    """A club's admin: a panel user with the admin role for a root club (in the audit log)."""
    data = form("club_id", "login", "name", "password")
    try:
        club = club_id_of(data.get("club_id"), "club_id")
        if club is None:
            raise reject("field_required", path="club_id")
        if not data.get("name"):
            raise reject("field_required", path="name")
        staff.create_user(service(), login=data.get("login", ""), name=data["name"], role="admin",
                          password=request.form.get("password", ""), actor=v.actor, reason="a club's admin", club_id=club)
    except KimiaError as error:
        data.pop("password", None)
        return _clubs(v, error_fields(error, v.lang), "admin", data, 400)
    return redirect(url_for("panel.platform.clubs", notice="platform.admin_created"))


def _tariffs(v: Viewer, errors: dict[str, str] | None = None, posted: dict[str, Any] | None = None, status: int = 200) -> Any:
    rows = routes.list_fee_tariffs(v.ctx(), ALL).items
    return render("panel/platform/tariffs.html", status=status, tariffs=rows, errors=errors or {}, posted=posted or {},
                  notice=_notice())


@PANEL.page("/platform/tariffs", roles=PLATFORM, menu=("nav.tariffs", 20))
def tariffs(v: Viewer) -> Any:
    """The platform's fee (کارمزد) per business type, and the default one (C6)."""
    return _tariffs(v)


@PANEL.page("/platform/tariffs", roles=PLATFORM, methods=("POST",), endpoint="platform.set_tariff")
def set_tariff(v: Viewer) -> Any:
    data = form("business_type", "percent_bp", "fixed_rial", "cap_rial")
    numbers = {k: fmt.latin_digits(data[k]).replace(",", "").replace("٬", "") for k in ("percent_bp", "fixed_rial", "cap_rial") if k in data}
    try:
        routes.set_fee_tariff(v.ctx(), parse_model(routes.TariffIn, {**data, **numbers}))
    except KimiaError as error:
        return _tariffs(v, error_fields(error, v.lang), data, 400)
    return redirect(url_for("panel.platform.tariffs", notice="platform.tariff_set"))
