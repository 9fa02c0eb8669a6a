"""The panel's users (issue 16, Roles): a club's admin lists and makes the club's own users
(admin, marketer, support, read-only, and merchant staff bound to one merchant), disables or
re-enables them and sets a new password, each with a reason; the platform's operator does the same
for the platform's own users and may open any user (to help a club whose admin is locked out).

A club's admin never sees another club's users (they answer as not found) and never makes a
platform user; nobody disables themselves. Disabling a user or setting their password ends every
session of theirs at once (kimia.service.staff); each change is in the audit log with its reason.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import staff
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import merchants as merchant_routes
from kimia.web.panel import i18n
from kimia.web.panel.access import CLUB_ADMIN, PANEL, PLATFORM, Viewer, error_fields, service
from kimia.web.panel.pages.structure import form
from kimia.web.panel.site import render

i18n.add({
    "nav.users": ("کاربران پنل", "Panel users"),
    "users.title": ("کاربران پنل", "Panel users"),
    "users.login": ("نام کاربری", "User name"),
    "users.name": ("نام و نام خانوادگی", "Full name"),
    "users.role": ("نقش", "Role"),
    "users.merchant": ("پذیرنده", "Merchant"),
    "users.merchant_hint": ("فقط برای کارکنان پذیرنده", "Merchant staff only"),
    "users.state": ("وضعیت", "State"),
    "users.active": ("فعال", "Active"),
    "users.disabled": ("غیرفعال", "Disabled"),
    "users.locked": ("قفل موقت", "Locked for now"),
    "users.created": ("تاریخ ایجاد", "Created"),
    "users.new": ("کاربر تازه", "New user"),
    "users.password": ("گذرواژهٔ اولیه", "Initial password"),
    "users.new_password": ("گذرواژهٔ تازه", "New password"),
    "users.create": ("ساختن کاربر", "Make the user"),
    "users.created_notice": ("کاربر ساخته شد.", "The user was made."),
    "users.disable": ("غیرفعال کردن", "Disable"),
    "users.enable": ("فعال کردن دوباره", "Enable again"),
    "users.disabled_notice": ("کاربر غیرفعال شد و همهٔ نشست‌هایش بسته شد.", "The user was disabled and all their sessions ended."),
    "users.enabled_notice": ("کاربر دوباره فعال شد.", "The user was enabled again."),
    "users.set_password": ("تعیین گذرواژهٔ تازه", "Set a new password"),
    "users.password_notice": ("گذرواژه عوض شد و همهٔ نشست‌های کاربر بسته شد.", "The password was changed and all the user's sessions ended."),
    "users.sessions_end": ("با این کار همهٔ نشست‌های باز این کاربر همان لحظه بسته می‌شود.", "This ends every open session of this user at once."),
    "users.not_self": ("نمی‌توانید حساب خودتان را غیرفعال کنید.", "You cannot disable yourself."),
    "users.back": ("بازگشت به فهرست کاربران", "Back to the users"),
    "users.you": ("شما", "you"),
})

NOTICES = ("users.created_notice", "users.disabled_notice", "users.enabled_notice", "users.password_notice")
#: The roles a club's admin gives; the platform's operator makes only platform users here (a
#: club's first admin is made on the platform's clubs page).
CLUB_ROLE_CHOICES = ("admin", "marketer", "support", "read_only", "merchant")


def _notice() -> str | None:
    wanted = request.args.get("notice")
    return wanted if wanted in NOTICES else None


def _scope(v: Viewer) -> int | None:
    """Whose users the viewer manages: their club's (a club's admin) or the platform's (None)."""
    return None if v.role == "platform" else v.club_id


def _merchants(v: Viewer) -> dict[int, str]:
    if v.role == "platform":
        return {}
    return {m.id: m.name_fa for m in merchant_routes.list_merchants(v.ctx(), PageQuery(limit=200)).items}


def _list(v: Viewer, errors: dict[str, str] | None = None, posted: dict[str, Any] | None = None, status: int = 200) -> Any:
    roles = ("platform",) if v.role == "platform" else CLUB_ROLE_CHOICES
    return render("panel/users/list.html", status=status, users=staff.list_users(service(), _scope(v)), roles=roles,
                  merchants=_merchants(v), now=service().clock(), errors=errors or {}, posted=posted or {}, notice=_notice())


@PANEL.page("/users", roles=CLUB_ADMIN | PLATFORM, menu=("nav.users", 90))
def users(v: Viewer) -> Any:
    """The users of the viewer's club (the platform's: its own), with role and state."""
    return _list(v)


@PANEL.page("/users", roles=CLUB_ADMIN | PLATFORM, methods=("POST",), endpoint="users.create")
def create(v: Viewer) -> Any:
    data = form("login", "name", "role", "merchant_id")
    role = data.get("role", "")
    try:
        if v.role == "platform" and role != "platform" or v.role != "platform" and role not in CLUB_ROLE_CHOICES:
            raise reject("field_invalid", path="role", detail="not a role you may give")
        if not data.get("name"):
            raise reject("field_required", path="name")
        merchant = data.get("merchant_id")
        if merchant is not None and (not merchant.isdigit() or int(merchant) not in _merchants(v)):
            raise reject("foreign_reference", path="merchant_id", kind="merchant", id=merchant)
        if role != "merchant":
            merchant = None
        staff.create_user(service(), login=data.get("login", ""), name=data["name"], role=role, password=request.form.get("password", ""),
                          actor=v.actor, reason="panel", club_id=_scope(v), merchant_id=int(merchant) if merchant else None)
    except KimiaError as error:
        return _list(v, error_fields(error, v.lang), data, 400)
    return redirect(url_for("panel.users.users", notice="users.created_notice"))


def _target(v: Viewer, user_id: int) -> staff.User:
    """A user the viewer manages (another club's: not found)."""
    return staff.user_for(service(), user_id, club_id=_scope(v), any_club=v.role == "platform")


def _user(v: Viewer, target: staff.User, errors: dict[str, str] | None = None, form_name: str = "", status: int = 200) -> Any:
    merchants = _merchants(v) if target.club_id == v.club_id else {}
    return render("panel/users/user.html", status=status, u=target, merchants=merchants, now=service().clock(),
                  errors=errors or {}, form_name=form_name, notice=_notice())


@PANEL.page("/users/<int:user_id>", roles=CLUB_ADMIN | PLATFORM)
def user(v: Viewer, user_id: int) -> Any:
    """One user: disable or enable them, or set a new password, each with a reason."""
    return _user(v, _target(v, user_id))


@PANEL.page("/users/<int:user_id>/state", roles=CLUB_ADMIN | PLATFORM, methods=("POST",))
def set_state(v: Viewer, user_id: int) -> Any:
    target = _target(v, user_id)
    disable = request.form.get("disabled") == "1"
    if disable and v.user is not None and target.id == v.user.id:
        return _user(v, target, {"reason": i18n.text("users.not_self", v.lang)}, "state", 403)
    try:
        staff.set_disabled(service(), target.id, disable, actor=v.actor, reason=request.form.get("reason", "").strip()[:500])
    except KimiaError as error:
        return _user(v, target, error_fields(error, v.lang), "state", 400)
    return redirect(url_for("panel.users.user", user_id=target.id, notice="users.disabled_notice" if disable else "users.enabled_notice"))


@PANEL.page("/users/<int:user_id>/password", roles=CLUB_ADMIN | PLATFORM, methods=("POST",))
def set_password(v: Viewer, user_id: int) -> Any:
    target = _target(v, user_id)
    reason = request.form.get("reason", "").strip()[:500]
    try:
        if not reason:
            raise reject("reason_required", path="reason")
        staff.set_password(service(), target.id, request.form.get("password", ""), actor=v.actor, reason=reason)
    except KimiaError as error:
        return _user(v, target, error_fields(error, v.lang), "password", 400)
    if v.user is not None and target.id == v.user.id:  # their own sessions ended too: sign in again
        return redirect(url_for("panel.auth.login"))
    return redirect(url_for("panel.users.user", user_id=target.id, notice="users.password_notice"))
