"""Members in the panel (issue 16; SPEC M1-M5): the search box, enrolment, the member page, manual
adjustments with a reason, and binding another identifier.

Reads and writes act as the viewer through the JSON API's handlers (kimia.web.api.routes.members
and .ledger), so a club's staff see and change exactly what the club's management key would; the
search, which the API lacks, is kimia.service.member_search (indexed, scoped by the club tree).
Enrolment calls the service as the API's handler does, with the handler's own checks, recording
``panel`` as the channel the member enrolled through.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import member_search
from kimia.web.api.dispatch import parse_model
from kimia.web.api.models import PageQuery, Stamp
from kimia.web.api.routes import ledger
from kimia.web.api.routes import members as api
from kimia.web.panel import fmt, i18n
from kimia.web.panel.access import CLUB_READ, PANEL, SUPPORT, Viewer, error_fields, posted_form_key
from kimia.web.panel.site import render

#: The identifiers the enrolment form asks for, in its order (the API's kinds).
ENROL_KINDS = ("mobile", "national_code", "club_card", "card")
#: What an operator may bind to a member afterwards.
BIND_KINDS = ("mobile", "card", "club_card", "national_code")
ADJUSTABLE = ("points", "merchant_credit", "club_credit", "gift_credit", "welfare_credit", "virtual_credit", "cashback")
NOTICES = ("members.enrolled", "members.adjusted", "members.bound")
PAGE = 20

i18n.add({
    "nav.members": ("اعضا", "Members"),
    "members.title": ("اعضای باشگاه", "Club members"),
    "members.search_label": ("جستجوی عضو", "Find a member"),
    "members.search_hint": ("موبایل، کد ملی، چهار رقم آخر کارت، شماره کارت باشگاه، شماره عضویت یا بخشی از نام",
                            "Mobile, national code, last four digits of a card, club card, member number or part of the name"),
    "members.no_results": ("عضوی با این مشخصات پیدا نشد.", "No member matches this search."),
    "members.type_to_search": ("برای پیدا کردن عضو، یکی از مشخصات او را بنویسید.", "Type something the member is known by to find them."),
    "members.new": ("عضو جدید", "Enrol a member"),
    "members.member": ("عضو", "Member"),
    "members.identifiers": ("شناسه‌ها", "Identifiers"),
    "members.tier": ("سطح", "Tier"),
    "members.no_tier": ("بدون سطح", "No tier"),
    "members.last_purchase": ("آخرین خرید", "Last purchase"),
    "members.points": ("امتیاز", "Points"),
    "members.credit": ("اعتبار", "Credit"),
    "members.never": ("هنوز خریدی نکرده", "No purchase yet"),
    "members.id": ("شماره عضو", "Member no."),
    "members.unnamed": ("بی‌نام", "No name"),
    "members.name": ("نام و نام خانوادگی", "Full name"),
    "members.groups": ("گروه‌های عضو", "Member groups"),
    "members.club": ("باشگاه یا زیرباشگاه", "Club or sub-club"),
    "members.enrol_hint": ("دست‌کم یکی از شناسه‌ها لازم است. شماره کارت بانکی فقط به صورت رمزنگاری‌شده نگهداری می‌شود.",
                           "At least one identifier is needed. A bank card number is kept only as a keyed hash."),
    "members.enrol_submit": ("ثبت عضو", "Enrol"),
    "members.enrolled": ("عضو ثبت شد.", "The member is enrolled."),
    "members.profile": ("مشخصات", "Profile"),
    "members.enrolled_via": ("روش عضویت", "Enrolled through"),
    "members.enrolled_at": ("تاریخ عضویت", "Enrolled on"),
    "members.purchases": ("تعداد خرید", "Purchases"),
    "members.account_number": ("شماره حساب عضویت", "Account number"),
    "members.manual_tier": ("سطح دستی", "Tier set by hand"),
    "members.referral_code": ("کد معرفی", "Referral code"),
    "members.referred": ("با معرفی عضو دیگر آمده", "Introduced by another member"),
    "members.balances": ("موجودی‌ها", "Balances"),
    "members.account": ("حساب", "Account"),
    "members.scope": ("محل اعتبار یا تأمین‌کننده", "Valid at / funded by"),
    "members.balance": ("موجودی", "Balance"),
    "members.shared": ("کیف مشترک", "Shared wallet"),
    "members.everywhere": ("همه‌جا", "Everywhere"),
    "members.lots": ("بسته‌های امتیاز و اعتبار", "Lots of points and credit"),
    "members.original": ("مقدار اولیه", "Earned"),
    "members.remaining": ("باقی‌مانده", "Left"),
    "members.expires": ("انقضا", "Expires"),
    "members.no_expiry": ("بدون انقضا", "Never"),
    "members.pending": ("قابل استفاده از", "Usable from"),
    "members.tier_history": ("تاریخچهٔ سطح", "Tier history"),
    "members.period_end": ("پایان دوره", "Period end"),
    "members.from_to": ("از سطح، به سطح", "From, to"),
    "members.period_points": ("امتیاز دوره", "Period points"),
    "members.history": ("تاریخچهٔ عملیات", "Operations"),
    "members.op": ("عملیات", "Operation"),
    "members.why": ("توضیح", "Why"),
    "members.status": ("وضعیت", "Status"),
    "members.earned": ("امتیاز گرفته", "Points earned"),
    "members.redeemed": ("امتیاز خرج‌شده", "Points spent"),
    "members.lotteries": ("قرعه‌کشی‌ها", "Lotteries"),
    "members.entries": ("شانس", "Entries"),
    "members.won": ("برنده شد", "Won"),
    "members.drawn": ("قرعه کشیده شد", "Drawn"),
    "members.open_lottery": ("باز", "Open"),
    "members.rank": ("رتبهٔ {rank}: {prize}", "Rank {rank}: {prize}"),
    "members.adjust": ("اصلاح دستی موجودی", "Adjust a balance"),
    "members.adjust_hint": ("هر اصلاح دستی با نام شما و دلیلی که می‌نویسید در گزارش ممیزی ثبت می‌شود.",
                            "Every manual adjustment is kept in the audit log with your name and the reason you give."),
    "members.kind": ("نوع حساب", "Account"),
    "members.merchant": ("پذیرنده (برای اعتبار پذیرنده)", "Merchant (for merchant credit)"),
    "members.direction": ("جهت", "Direction"),
    "members.add": ("افزودن", "Add"),
    "members.take": ("کسر", "Take away"),
    "members.amount": ("مقدار (امتیاز یا ریال)", "Amount (points or rials)"),
    "members.expires_days": ("انقضای افزوده پس از چند روز (اختیاری)", "An addition expires after (days, optional)"),
    "members.adjust_submit": ("ثبت اصلاح", "Adjust"),
    "members.adjusted": ("اصلاح ثبت شد؛ موجودی تازه را در زیر می‌بینید.", "Adjusted; the new balances are below."),
    "members.new_balances": ("موجودی فعلی", "Balances now"),
    "members.bind": ("افزودن شناسه", "Bind an identifier"),
    "members.bind_hint": ("شناسه‌ای که از آنِ عضو دیگری باشد پذیرفته نمی‌شود.", "An identifier of another member is refused."),
    "members.identifier_kind": ("نوع شناسه", "Kind"),
    "members.identifier_value": ("شماره", "Number"),
    "members.bind_submit": ("افزودن", "Bind"),
    "members.bound": ("شناسه به عضو افزوده شد.", "The identifier is bound."),
    "members.amount_invalid": ("مقدار باید عددی درست و بزرگ‌تر از صفر باشد.", "The amount must be a whole number above zero."),
    "members.days_invalid": ("تعداد روز باید عددی درست باشد.", "The number of days must be a whole number."),
    "members.none_chosen": ("هیچ‌کدام", "None"),
    "members.back": ("بازگشت به صفحهٔ عضو", "Back to the member"),
    "members.since": ("از", "since"),
    # Identifier kinds.
    "members.kind.mobile": ("موبایل", "Mobile"),
    "members.kind.national_code": ("کد ملی", "National code"),
    "members.kind.club_card": ("کارت باشگاه", "Club card"),
    "members.kind.card": ("کارت بانکی", "Bank card"),
    "members.kind.account": ("شماره حساب", "Account no."),
    # Account kinds.
    "members.acct.points": ("امتیاز", "Points"),
    "members.acct.merchant_credit": ("اعتبار پذیرنده", "Merchant credit"),
    "members.acct.club_credit": ("اعتبار باشگاه", "Club credit"),
    "members.acct.credit_line": ("اعتبار خرید اقساطی", "Credit line"),
    "members.acct.lottery_entries": ("شانس قرعه‌کشی", "Lottery entries"),
    "members.acct.virtual_credit": ("اعتبار مجازی", "Virtual credit"),
    "members.acct.cashback": ("بازگشت وجه", "Cashback"),
    "members.acct.gift_credit": ("اعتبار هدیه", "Gift credit"),
    "members.acct.welfare_credit": ("اعتبار رفاهی", "Welfare credit"),
    # Operation kinds.
    "members.op.purchase": ("خرید", "Purchase"),
    "members.op.hold": ("رزرو", "Hold"),
    "members.op.completion": ("تکمیل", "Completion"),
    "members.op.cancel": ("لغو", "Cancellation"),
    "members.op.refund": ("مرجوعی", "Refund"),
    "members.op.reversal": ("برگشت", "Reversal"),
    "members.op.conversion": ("تبدیل امتیاز", "Conversion"),
    "members.op.charge": ("شارژ اعتبار", "Credit charge"),
    "members.op.voucher": ("کوپن", "Voucher"),
    "members.op.adjustment": ("اصلاح دستی", "Manual adjustment"),
    "members.op.expiry": ("انقضا", "Expiry"),
    "members.op.enroll": ("عضویت", "Enrolment"),
    "members.op.bind": ("افزودن شناسه", "Identifier bound"),
    # Channels.
    "members.via.pos": ("پایانه فروش", "Point of sale"),
    "members.via.panel": ("پنل", "Panel"),
    "members.via.app": ("اپلیکیشن", "App"),
    "members.via.web": ("وب", "Web"),
    "members.via.api": ("API", "the API"),
    # Where an account counts.
    "members.scope.lottery": ("قرعه‌کشی شمارهٔ {id}", "Lottery no. {id}"),
    # Tier moves.
    "members.move.up": ("ارتقا", "Up"),
    "members.move.down": ("تنزل", "Down"),
    "members.move.stay": ("ماندن", "Stayed"),
    "members.move.grace": ("مهلت", "Grace"),
})


def label(v: Viewer, prefix: str, value: str | None) -> str:
    """The words for a kind (``members.kind.mobile``), or the kind itself when there are none."""
    if value is None:
        return ""
    key = f"{prefix}.{value}"
    return i18n.text(key, v.lang) if key in i18n.MESSAGES else value


def helpers(v: Viewer, options: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """What the members' templates call: words for kinds, API moments as Jalali dates, and an
    account's scope (``merchant:3``) as the merchant's or club's name."""
    names = {f"{kind[:-1]}:{o['id']}": o["name_fa"] if v.lang == "fa" else o["name_en"]
             for kind, found in (options or {}).items() for o in found}

    def when(stamp: Stamp | None, with_time: bool) -> str:
        if stamp is None:
            return ""
        ts = int(dt.datetime.fromisoformat(stamp.at).timestamp())
        return (fmt.jdatetime if with_time else fmt.jdate)(ts, v.utc_offset_min, v.lang)

    def scope(text: str) -> str:
        kind, _, number = text.partition(":")
        if text in names:
            return str(names[text])
        key = f"members.scope.{kind}"
        return i18n.text(key, v.lang, id=fmt.digits(number, v.lang)) if key in i18n.MESSAGES else fmt.digits(text, v.lang)

    return {"label": lambda prefix, value: label(v, prefix, value), "day": lambda s: when(s, False), "moment": lambda s: when(s, True),
            "scope": scope, "ident": lambda i: shown(i["kind"] if isinstance(i, dict) else i.kind,
                                                    i["display"] if isinstance(i, dict) else i.display, v.lang)}


def shown(kind: str, display: str, lang: str) -> str:
    """An identifier as a person reads it: a mobile as dialled at home (0912...), a card as its
    last 4 after a short mask (the stored display has one ``*`` per hidden digit), in the page's digits."""
    if kind == "mobile" and display.startswith("+98"):
        display = "0" + display[3:]
    elif kind in ("card", "club_card"):
        display = "•••• " + display.lstrip("*")
    return fmt.digits(display, lang)


def _notice() -> str | None:
    notice = request.args.get("notice")
    return notice if notice in NOTICES else None


# --- search -------------------------------------------------------------------------------------------


@PANEL.page("/members", roles=CLUB_READ, menu=("nav.members", 20))
def search(v: Viewer) -> Any:
    """One box finds a member by whatever they are known by (kimia.service.member_search)."""
    query = fmt.normalize(request.args.get("q", ""))[:100]
    ctx = v.ctx()
    results = member_search.search(ctx.svc, ctx.club_id, query) if query else []
    return render("panel/members/search.html", q=query, results=results, searched=bool(query), notice=_notice(), **helpers(v))


# --- enrolment -------------------------------------------------------------------------------------------


def _enrol_body(form: Any) -> tuple[dict[str, Any], list[str]]:
    """The API's enrolment body from the form, and the form field of each identifier in order."""
    kinds = [kind for kind in ENROL_KINDS if form.get(kind, "").strip()]
    body: dict[str, Any] = {
        "identifiers": [{"kind": kind, "value": fmt.latin_digits(form.get(kind, "").strip())} for kind in kinds],
        "name_fa": fmt.normalize(form.get("name_fa", "")),
        "groups": [g for g in form.getlist("groups") if g],
    }
    if form.get("club_id"):
        body["club_id"] = form.get("club_id")
    return body, kinds


def _form_path(path: str, kinds: list[str]) -> str:
    """Where on the form an API path is: ``identifiers.1.value`` is the second identifier's field."""
    parts = path.split(".")
    if parts[0] == "identifiers":
        if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(kinds):
            return kinds[int(parts[1])]
        return ""
    if parts[0] == "groups":
        return "groups"
    return path


@PANEL.page("/members/new", roles=SUPPORT, methods=("GET", "POST"))
def enrol(v: Viewer) -> Any:
    """Enrol a member: a name, identifiers, groups and the sub-club (as POST /members)."""
    ctx = v.ctx()
    options = member_search.choices(ctx.svc, ctx.club_id)
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        body, kinds = _enrol_body(request.form)
        try:
            ctx = v.ctx(idem_key=posted_form_key())
            parsed = parse_model(api.EnrolIn, body)
            club_id = api._enrol_club(ctx, parsed.club_id)
            for n, identifier in enumerate(parsed.identifiers):
                api._check_identifier(ctx, identifier.kind, identifier.value, f"identifiers.{n}.value")
            assert ctx.idem_key is not None
            with api._paths({kind: f"identifiers.{n}.value" for n, kind in enumerate(kinds)}):
                answer = ctx.svc.enroll(club_id, idem_key=ctx.idem_key, identifiers=[(i.kind, i.value) for i in parsed.identifiers],
                                        name_fa=parsed.name_fa, groups=parsed.groups, via="panel", actor=ctx.actor)
        except KimiaError as error:
            errors = {_form_path(path, kinds): message for path, message in error_fields(error, v.lang).items()}
        else:
            return redirect(url_for("panel.members.member_page", member_id=answer["member_id"], notice="members.enrolled"))
    chosen = {int(g) for g in (request.form.getlist("groups") if request.method == "POST" else []) if str(g).isdigit()}
    return render("panel/members/new.html", status=422 if errors else 200, errors=errors, form=form, options=options,
                  kinds=ENROL_KINDS, chosen=chosen, **helpers(v))


# --- the member page ---------------------------------------------------------------------------------------


@PANEL.page("/members/<int:member_id>", roles=CLUB_READ)
def member_page(v: Viewer, member_id: int) -> Any:
    """Everything about a member: profile, balances, lots, tiers, history, lotteries, referral."""
    ctx = v.ctx()
    profile = api.member(ctx, member_id)  # unknown_member (404) first: another club's member
    cursor = request.args.get("cursor") or None
    page = parse_model(PageQuery, {"limit": PAGE, **({"cursor": cursor} if cursor else {})})
    history = api.history(ctx, member_id, page)
    first_page = cursor is None
    values: dict[str, Any] = {}
    if first_page:
        values = {
            "balances": api.balances(ctx, member_id),
            "lots": api.lots(ctx, member_id, parse_model(PageQuery, {"limit": 50})),
            "tiers": api.tier_history(ctx, member_id, parse_model(PageQuery, {"limit": 12})),
            "lotteries": api.lottery_entries(ctx, member_id, parse_model(PageQuery, {"limit": 20})),
            "referral": api.referral_code(ctx, member_id) if profile.club_id in ctx.clubs() else None,
            **helpers(v, member_search.choices(ctx.svc, ctx.club_id)),
        }
    else:
        values = helpers(v)
    next_url = url_for("panel.members.member_page", member_id=member_id, cursor=history.next_cursor) if history.next_cursor else None
    return render("panel/members/member.html", m=profile, history=history.items, next_url=next_url, first_page=first_page,
                  notice=_notice(), **values)


# --- adjustments ---------------------------------------------------------------------------------------------


def _whole(text: str, path: str, key: str) -> int | None:
    cleaned = fmt.latin_digits(text.strip()).replace(",", "").replace("٬", "")
    if not cleaned:
        return None
    if not cleaned.isdigit() or len(cleaned) > 16:
        raise reject("field_invalid", path=path, detail=key)
    return int(cleaned)


@PANEL.page("/members/<int:member_id>/adjust", roles=SUPPORT, methods=("GET", "POST"))
def adjust(v: Viewer, member_id: int) -> Any:
    """Add to or take from a member's points or credit by hand, with a reason (as POST
    /members/{id}/adjustments): audited with the person and the reason."""
    ctx = v.ctx()
    profile = api.member(ctx, member_id)  # another club's member: 404 before anything
    options = member_search.choices(ctx.svc, ctx.club_id)
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            ctx = v.ctx(idem_key=posted_form_key())
            amount = _whole(request.form.get("amount", ""), "amount", "members.amount_invalid")
            if amount is None or amount == 0:
                raise reject("field_invalid", path="amount", detail="members.amount_invalid")
            sign = -1 if request.form.get("direction") == "take" else 1
            body: dict[str, Any] = {"account_kind": request.form.get("account_kind", ""), "delta": sign * amount,
                                    "reason": request.form.get("reason", "").strip()}
            if request.form.get("account_kind") == "merchant_credit" and request.form.get("merchant_id"):
                body["merchant_id"] = request.form.get("merchant_id")
            days = _whole(request.form.get("expires_days", ""), "expires_days", "members.days_invalid")
            if days is not None:
                body["expires_days"] = days
            ledger.adjust(ctx, member_id, parse_model(ledger.AdjustmentIn, body))
        except KimiaError as error:
            errors = error_fields(error, v.lang)
            if "delta" in errors:
                errors["amount"] = errors.pop("delta")
            if error.code == "field_invalid" and error.path in ("amount", "expires_days"):
                errors[error.path] = i18n.text("members.amount_invalid" if error.path == "amount" else "members.days_invalid", v.lang)
        else:
            return redirect(url_for("panel.members.adjust", member_id=member_id, notice="members.adjusted"))
    balances = api.balances(v.ctx(), member_id)
    return render("panel/members/adjust.html", status=422 if errors else 200, m=profile, errors=errors, form=form, options=options,
                  kinds=ADJUSTABLE, balances=balances, notice=_notice(), **helpers(v, options))


# --- binding -------------------------------------------------------------------------------------------------


@PANEL.page("/members/<int:member_id>/identifiers", roles=SUPPORT, methods=("GET", "POST"))
def identifiers(v: Viewer, member_id: int) -> Any:
    """Bind another identifier to a member (as POST /members/{id}/identifiers, as an operator)."""
    ctx = v.ctx()
    profile = api.member(ctx, member_id)
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            ctx = v.ctx(idem_key=posted_form_key())
            body = {"kind": request.form.get("kind", ""), "value": fmt.latin_digits(request.form.get("value", "").strip())}
            api.bind(ctx, member_id, parse_model(api.BindIn, body))
        except KimiaError as error:
            errors = error_fields(error, v.lang)
        else:
            return redirect(url_for("panel.members.member_page", member_id=member_id, notice="members.bound"))
    return render("panel/members/identifiers.html", status=422 if errors else 200, m=profile, errors=errors, form=form,
                  kinds=BIND_KINDS, **helpers(v))
