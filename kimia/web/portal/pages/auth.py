"""The portal's sign-in with a one-time code, its sign-out, and the member's home (balances and
tier).

Sign-in takes two steps on one page: the member picks their club (or comes with the club's
``?club=<id>`` link) and types their mobile (Persian or Arabic digits are fine); kimia sends a
one-time code through the service's notifier (``Kimia.request_code``) and asks for it; the code is
checked as every code is (kimia.service.proofs: wrong, used, expired or tried too often is
``otp_invalid``) and a member session opens. Whether the number belongs to a member is never
told: a known and an unknown number get the same answer ("if this number is a member, a code
was sent") and the same refusal for a code. A number asked for twice within a minute is answered
``code_too_soon`` whether or not it is a member's (a table in this process; the service's own
once-a-minute limit is kept quietly, since saying so would tell the number is a member's).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from flask import current_app, redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import staff, structure_views, verify
from kimia.service.members import normalize_identifier, resolve_member
from kimia.service.proofs import check_code
from kimia.service.requests import MemberRef
from kimia.identifiers import normalize_digits
from kimia.web.api.problems import status_of
from kimia.web.api.routes import members as api_members
from kimia.web.panel import i18n, signin
from kimia.web.panel.access import ANYONE, MEMBER, PORTAL, Viewer, error_fields, service
from kimia.web.panel.site import render, safe_next
from kimia.web.portal import view

i18n.add({
    "portal.auth.title": ("ورود به باشگاه من", "Sign in to my club"),
    "nav.portal_home": ("خلاصهٔ حساب", "My account"),
    "portal.auth.club": ("باشگاه", "Club"),
    "portal.auth.pick_club": ("باشگاه خود را انتخاب کنید", "Choose your club"),
    "portal.auth.mobile": ("شمارهٔ موبایل", "Mobile number"),
    "portal.auth.mobile_hint": ("مثلاً ۰۹۱۲۱۲۳۴۵۶۷", "e.g. 09121234567"),
    "portal.auth.send": ("دریافت کد ورود", "Send me a code"),
    "portal.auth.sent": ("اگر این شماره عضو باشگاه باشد، کد ورود برایش پیامک شد. کد را این‌جا وارد کنید.",
                         "If this number is a member of the club, a sign-in code has been sent to it. Enter the code here."),
    "portal.auth.code": ("کد ورود", "Sign-in code"),
    "portal.auth.code_hint": ("کد {digits} رقمی؛ تا {minutes} دقیقه معتبر است", "{digits} digits; valid for {minutes} minutes"),
    "portal.auth.verify": ("ورود", "Sign in"),
    "portal.auth.again": ("شماره را اشتباه زدید یا کد نرسید؟ دوباره درخواست کنید", "Wrong number, or no code? Ask again"),
    "portal.auth.too_soon": ("برای این شماره همین چند لحظه پیش کد فرستاده شد؛ همان کد را وارد کنید یا یک دقیقهٔ دیگر دوباره درخواست کنید.",
                             "A code was sent to this number a moment ago: enter it, or ask again in a minute."),
    "portal.auth.intro": ("موجودی امتیاز و اعتبار، سوابق خرید، ووچرها و کد معرفی خود را ببینید.",
                          "See your points and credit, your purchases, your vouchers and your referral code."),
    "portal.auth.signed_out": ("از باشگاه من خارج شدید.", "You have signed out."),
    "portal.auth.no_clubs": ("هنوز باشگاهی راه‌اندازی نشده است.", "No club has been set up yet."),
    "portal.home.title": ("خلاصهٔ حساب", "My account"),
    "portal.home.hello": ("سلام {name}", "Hello {name}"),
    "portal.home.points": ("امتیاز", "Points"),
    "portal.home.credit": ("اعتبار", "Credit"),
    "portal.home.tier": ("سطح عضویت", "Tier"),
    "portal.home.no_tier": ("بدون سطح", "No tier"),
    "portal.home.balances": ("موجودی‌ها", "Balances"),
    "portal.home.kind": ("نوع", "Kind"),
    "portal.home.where": ("قابل استفاده در", "Valid at"),
    "portal.home.balance": ("موجودی", "Balance"),
    "portal.home.expiring": ("نزدیک‌ترین انقضاها", "Expiring soonest"),
    "portal.home.expiring_note": ("هنگام خرید، اول آن‌چه زودتر منقضی می‌شود خرج می‌شود.",
                                  "When you spend, what expires first is used first."),
    "portal.home.remaining": ("باقی‌مانده", "Remaining"),
    "portal.home.expires": ("تاریخ انقضا", "Expires"),
    "portal.home.never": ("بدون انقضا", "Never"),
    "portal.home.pending": ("قابل استفاده از {date}", "Usable from {date}"),
    "portal.home.shared": ("کیف پول مشترک", "Shared wallet"),
    "portal.kind.points": ("امتیاز", "Points"),
    "portal.kind.merchant_credit": ("اعتبار فروشگاه", "Store credit"),
    "portal.kind.club_credit": ("اعتبار باشگاه", "Club credit"),
    "portal.kind.credit_line": ("اعتبار خرید اقساطی", "Credit line"),
    "portal.kind.lottery_entries": ("شانس قرعه‌کشی", "Lottery entries"),
    "portal.kind.other": ("سایر", "Other"),
    "portal.scope.merchant": ("فقط {name}", "Only at {name}"),
    "portal.scope.club": ("همهٔ فروشگاه‌های باشگاه", "Every store of the club"),
    "portal.scope.lottery": ("قرعه‌کشی باشگاه", "The club's lottery"),
    "portal.unit.point": ("امتیاز", "points"),
    "portal.unit.entry": ("شانس", "entries"),
})

#: Kinds of balance the portal names (others show as "other").
KINDS = ("points", "merchant_credit", "club_credit", "credit_line", "lottery_entries")
_recent_lock = threading.Lock()


def _root_clubs() -> list[structure_views.ClubNode]:
    return [club for _, club in structure_views.list_root_clubs(service(), after_id=0, limit=500)]


def _asked_recently(club_id: int, mobile: str) -> bool:
    """Whether this club's number was asked a code for in the last minute (in this process),
    recording this ask when not: the same answer for a member's number and anyone else's."""
    recent: dict[str, int] = current_app.extensions.setdefault("kimia_portal_codes", {})
    key = hashlib.sha256(f"{club_id}|{mobile}".encode()).hexdigest()
    now = service().clock()
    with _recent_lock:
        if len(recent) > 10_000:
            for old in [k for k, at in recent.items() if at <= now - verify.CODE_INTERVAL_S]:
                del recent[old]
        last = recent.get(key)
        if last is not None and last > now - verify.CODE_INTERVAL_S:
            return True
        recent[key] = now
    return False


def _club_of(form_value: str, clubs: list[structure_views.ClubNode]) -> int:
    value = normalize_digits(form_value or "")
    if not value:
        raise reject("field_required", path="club")
    if not value.isdigit() or int(value) not in {c.id for c in clubs}:
        raise reject("unknown_club", path="club")
    return int(value)


def _mobile_of(form_value: str) -> str:
    if not (form_value or "").strip():
        raise reject("field_required", path="mobile")
    return normalize_identifier(service(), "mobile", form_value.strip()[:40])[0]


@PORTAL.page("/login", roles=ANYONE, methods=("GET", "POST"))
def login(v: Viewer) -> Any:
    """Sign in with a one-time code (see the module's docstring)."""
    if v.session is not None and request.method == "GET":
        return redirect(url_for("portal.auth.home"))
    signin.prepare_form()
    clubs = _root_clubs()
    asked = request.form.get("club") or request.args.get("club", "")
    values: dict[str, Any] = {"club": normalize_digits(asked)[:20], "mobile": request.form.get("mobile", "")[:40], "step": "ask"}
    fixed = next((c for c in clubs if str(c.id) == values["club"]), None) if request.args.get("club") else None
    errors: dict[str, str] = {}
    status, notice = 200, "portal.auth.signed_out" if request.args.get("out") else ""
    if request.method == "POST":
        step = "code" if request.form.get("step") == "code" else "ask"
        try:
            signin.check_form_token()
            signin.throttle(PORTAL)
            club_id = _club_of(values["club"], clubs)
            mobile = _mobile_of(values["mobile"])
            values.update(club=str(club_id), mobile=mobile)
            if step == "ask":
                values["step"] = "code"
                notice = "portal.auth.too_soon" if _asked_recently(club_id, mobile) else _send_code(club_id, mobile)
            else:
                values["step"] = "code"
                token = _check_code(club_id, mobile, request.form.get("code", ""))
                target = safe_next(request.args.get("next"), "/portal") or url_for("portal.auth.home")
                response = redirect(target)
                signin.set_session_cookie(response, PORTAL, token)
                return response
        except KimiaError as refused:
            errors, status = error_fields(refused, v.lang), status_of(refused.code)
            # Back to the first step when it was that step's, or the number or club is wrong.
            values["step"] = "ask" if step == "ask" or refused.path in ("club", "mobile") else "code"
    response = render("portal/login.html", status=status, clubs=clubs, fixed=fixed, errors=errors, notice=notice,
                      code_digits=verify.CODE_DIGITS, code_minutes=verify.CODE_TTL_S // 60, **values)
    return signin.keep_form_token(response, PORTAL)


def _send_code(club_id: int, mobile: str) -> str:
    """Send a code when the number is a member's; say nothing either way (the page's notice)."""
    try:
        service().request_code(club_id, {"kind": "mobile", "value": mobile})
    except KimiaError as refused:
        # Not a member, no mobile, or a code sent under a minute ago (by a terminal, say: the
        # newest code still signs in): answered as if sent.
        if refused.code not in ("unknown_member", "no_mobile", "code_too_soon"):
            raise
    return "portal.auth.sent"


def _check_code(club_id: int, mobile: str, typed: str) -> str:
    """The member's session token when ``typed`` is their newest code; ``otp_invalid`` at the
    code field for a wrong code and for a number that is no member's alike."""
    code = normalize_digits(typed or "")
    if not code:
        raise reject("field_required", path="code")
    svc = service()
    try:
        with svc.reading() as tx:
            member_id, _ = resolve_member(svc, tx, club_id, MemberRef("mobile", mobile))
    except KimiaError:
        raise reject("otp_invalid", path="code") from None
    if len(code) != verify.CODE_DIGITS or not code.isdigit():
        raise reject("otp_invalid", path="code")
    try:
        check_code(svc, member_id, code)
    except KimiaError as refused:
        raise reject(refused.code, path="code") from None
    token, _ = staff.open_session(svc, kind="member", member_id=member_id, club_id=club_id, address=request.remote_addr or "")
    return token


@PORTAL.page("/logout", roles=MEMBER, methods=("POST",))
def logout(v: Viewer) -> Any:
    """Sign out: the session ends on the server at once."""
    staff.revoke_session(service(), request.cookies.get(PORTAL.cookie, ""))
    response = redirect(url_for("portal.auth.login", out=1))
    signin.clear_session_cookie(response, PORTAL)
    return response


@PORTAL.page("/", roles=MEMBER, menu=("nav.portal_home", 10))
def home(v: Viewer) -> Any:
    """The member's balances per kind, what expires soonest, and their tier."""
    ctx, me = v.ctx(), view.member_id(v)
    profile = api_members.member(ctx, me)
    balances = api_members.balances(ctx, me)
    lots = api_members.lots(ctx, me, view.page_query(None, 10)).items
    names = view.merchant_names(ctx, view.scope_merchants([a.scope for a in balances.accounts]), v.lang)
    accounts = [{"kind": a.kind if a.kind in KINDS else "other", "unit": a.unit, "balance": a.balance, "shared": a.shared,
                 "where": view.scope_label(a.scope, names)} for a in balances.accounts if a.balance or a.kind == "points"]
    expiring = [{"kind": lot.kind if lot.kind in KINDS else "other", "unit": lot.unit, "remaining": lot.remaining,
                 "expires": view.ts(lot.expires), "pending": view.ts(lot.pending_until)} for lot in lots if lot.unit in ("point", "rial")]
    return render("portal/home.html", profile=profile, balances=balances, accounts=accounts, expiring=expiring)
