"""The club's tiers (SPEC V6-V11): their thresholds, grace periods and period-end deductions, a
member moved to a tier by hand with a reason, and closing the tier period (a preview first, then
the close, confirmed), with the history of closes.

Everything goes through the JSON API's handlers (kimia/web/api/routes/tiers.py) acting as the
viewer, so tiers are the root club's and a sub-club's staff read them only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import offers_views
from kimia.web.api.dispatch import parse_model
from kimia.web.api.problems import status_of
from kimia.web.api.routes import tiers as api
from kimia.web.panel import i18n
from kimia.web.panel.access import CLUB_ADMIN, CLUB_READ, PANEL, SUPPORT, Viewer, posted_form_key
from kimia.web.panel.offers_forms import field_errors, form_values, number_text
from kimia.web.panel.site import render

#: Blank rows the settings form offers for new tiers.
BLANK_ROWS = 2
TIER_FIELDS = ("name", "rise_at", "stay_at", "grace_periods", "deduct_bp")
NOTICES = ("tiers.saved", "tiers.moved", "tiers.closed")

i18n.add({
    "nav.tiers": ("طبقه‌های عضویت", "Tiers"),
    "tiers.title": ("طبقه‌های عضویت", "Membership tiers"),
    "tiers.intro": ("اعضا با امتیازهای هر دوره بین طبقه‌ها جابه‌جا می‌شوند؛ طبقه‌ها از پایین‌ترین به بالاترین فهرست شده‌اند.",
                    "Members move between tiers by the points of each period; tiers are listed lowest first."),
    "tiers.none": ("این باشگاه هنوز طبقه‌ای ندارد.", "This club has no tiers yet."),
    "tiers.name": ("نام طبقه", "Tier name"),
    "tiers.rise_at": ("امتیاز لازم برای ارتقا", "Points to rise"),
    "tiers.stay_at": ("امتیاز لازم برای ماندن", "Points to stay"),
    "tiers.grace_periods": ("دوره‌های ارفاق", "Grace periods"),
    "tiers.deduct_bp": ("کسر پایان دوره (واحد پایه)", "Period-end deduction (bp)"),
    "tiers.deduct_hint": ("۱۰۰ واحد پایه یعنی ۱٪", "100 bp is 1%"),
    "tiers.settings": ("تنظیم طبقه‌ها", "Tier settings"),
    "tiers.blank_hint": ("برای افزودن طبقه، ردیف خالی را پر کنید؛ برای حذف، نام آن را پاک کنید.",
                         "Fill a blank row to add a tier; clear a tier's name to remove it."),
    "tiers.save": ("ذخیرهٔ طبقه‌ها", "Save tiers"),
    "tiers.saved": ("طبقه‌ها ذخیره شد؛ اعضا در بستن دورهٔ بعد در طبقه‌های تازه جای می‌گیرند.",
                    "Tiers saved; members are placed among the new tiers at the next period close."),
    "tiers.precedence": ("ترتیب تصمیم در بستن دوره", "How a period close decides"),
    "tiers.precedence_text": (
        "برای هر عضو به این ترتیب: طبقهٔ دستی حفظ می‌شود؛ عضو مسدودشده (فریز) در طبقه‌اش می‌ماند؛ عضوی که به امتیاز ارتقای طبقهٔ بالاتر برسد "
        "به بالاترین طبقهٔ ممکن می‌رود؛ عضوی که به امتیاز ماندن برسد می‌ماند؛ عضو زیر حد ماندن اگر دورهٔ ارفاق داشته باشد می‌ماند و یک دوره "
        "از ارفاقش کم می‌شود؛ وگرنه دست‌کم یک طبقه پایین می‌آید. کسر امتیاز بر پایهٔ طبقه‌ای است که عضو در آن می‌ماند.",
        "For each member, in this order: a manual tier is kept; a frozen member stays; a member whose period points reach a "
        "higher tier's rise threshold rises to the highest such tier; one reaching their tier's stay threshold stays; one below it "
        "with grace periods left stays and uses one; otherwise they fall at least one tier. The deduction is the one of the tier "
        "they end in."),
    "tiers.move": ("انتقال دستی عضو به طبقه", "Move a member to a tier"),
    "tiers.move_hint": ("عضو تا بستن دورهٔ بعد در این طبقه می‌ماند.", "The member stays in this tier until the next period close."),
    "tiers.member_id": ("شمارهٔ عضو", "Member number"),
    "tiers.tier": ("طبقه", "Tier"),
    "tiers.move_submit": ("انتقال", "Move"),
    "tiers.moved": ("عضو به طبقهٔ تازه منتقل شد.", "The member was moved to the tier."),
    "tiers.period": ("دورهٔ طبقه‌بندی", "Tier period"),
    "tiers.last_close": ("آخرین بستن دوره", "Last period close"),
    "tiers.never_closed": ("هنوز دوره‌ای بسته نشده است.", "No period has been closed yet."),
    "tiers.unfinished": ("بستن دوره‌ای نیمه‌کاره مانده است؛ بستن بعدی آن را کامل می‌کند.",
                         "A close stopped half-way; the next close finishes it."),
    "tiers.preview": ("پیش‌نمایش بستن دوره", "Preview the period close"),
    "tiers.preview_title": ("پیش‌نمایش بستن دورهٔ طبقه‌بندی", "Preview of the tier period close"),
    "tiers.preview_intro": ("چیزی هنوز تغییر نکرده است. اگر درست است، بستن را تأیید کنید.",
                            "Nothing has changed yet. If this is right, confirm the close."),
    "tiers.period_end": ("پایان دوره", "Period end"),
    "tiers.reasons": ("اعضا بر پایهٔ تصمیم", "Members by decision"),
    "tiers.reason.up": ("ارتقا", "Rise"),
    "tiers.reason.down": ("تنزل", "Fall"),
    "tiers.reason.stay": ("ماندن", "Stay"),
    "tiers.reason.grace": ("ماندن با ارفاق", "Stay on grace"),
    "tiers.reason.frozen": ("فریزشده", "Frozen"),
    "tiers.reason.manual": ("طبقهٔ دستی", "Manual tier"),
    "tiers.moves": ("جابه‌جایی‌ها", "Moves"),
    "tiers.from": ("از طبقه", "From"),
    "tiers.to": ("به طبقه", "To"),
    "tiers.members": ("تعداد اعضا", "Members"),
    "tiers.no_tier": ("بدون طبقه", "No tier"),
    "tiers.no_moves": ("هیچ عضوی طبقه‌اش عوض نمی‌شود.", "No member changes tier."),
    "tiers.deducted": ("امتیازی که کسر می‌شود", "Points deducted"),
    "tiers.force": ("بستن حتی اگر از بستن قبلی کمتر از یک روز گذشته باشد", "Close even if the last close was less than a day ago"),
    "tiers.confirm": ("پیش‌نمایش را دیدم و بستن دوره را تأیید می‌کنم", "I have read the preview and confirm the close"),
    "tiers.close": ("بستن دوره", "Close the period"),
    "tiers.closed": ("دوره بسته شد و اعضا جابه‌جا شدند.", "The period is closed and members have moved."),
    "tiers.history": ("تاریخچهٔ بستن دوره‌ها", "Period closes"),
    "tiers.status": ("وضعیت", "Status"),
    "tiers.status.done": ("کامل", "Done"),
    "tiers.status.running": ("نیمه‌کاره", "Unfinished"),
    "tiers.by": ("انجام‌دهنده", "By"),
    "tiers.finished_at": ("زمان انجام", "Finished"),
    "tiers.back": ("بازگشت به طبقه‌ها", "Back to tiers"),
})


def _reasons() -> tuple[str, ...]:
    return ("up", "down", "stay", "grace", "frozen", "manual")


def _page(v: Viewer, *, errors: dict[str, str] | None = None, rows: list[dict[str, Any]] | None = None,
          move: dict[str, Any] | None = None, status: int = 200) -> Any:
    ctx = v.ctx()
    current = api.get_tiers(ctx).tiers
    root = api.tiers_club(ctx)
    last, unfinished = ctx.svc.period_closes(root)
    if rows is None:
        rows = [t.model_dump() for t in current]
    rows = rows + [{} for _ in range(BLANK_ROWS)]
    notice = request.args.get("notice")
    return render("panel/tiers/tiers.html", status=status, tiers=current, rows=rows, errors=errors or {}, move=move or {},
                  last_close=last, unfinished=unfinished, history=offers_views.period_close_history(ctx.svc, root),
                  may_change=v.can(CLUB_ADMIN), may_move=v.can(SUPPORT), notice=notice if notice in NOTICES else None)


@PANEL.page("/tiers", roles=CLUB_READ, menu=("nav.tiers", 40))
def tiers(v: Viewer) -> Any:
    """The tiers, the period, the history of closes; forms for those who may change them."""
    return _page(v)


def _posted_rows() -> tuple[list[dict[str, Any]], list[int]]:
    """The settings form's rows as typed, and the form rows of the tiers sent (blank rows left out)."""
    count = min(int(number_text(request.form.get("rows", "0")) or 0), 100 + BLANK_ROWS)
    rows, sent = [], []
    for i in range(count):
        row = {f: request.form.get(f"tiers.{i}.{f}", "").strip() for f in TIER_FIELDS}
        rows.append(row)
        if any(row.values()):
            sent.append(i)
    return rows, sent


@PANEL.page("/tiers/save", roles=CLUB_ADMIN, methods=("POST",))
def save(v: Viewer) -> Any:
    """Replace the tiers (PUT /tiers), audited with the reason."""
    rows, sent = _posted_rows()
    body: dict[str, Any] = {"tiers": [], "reason": form_values(["reason"]).get("reason", "")}
    for i in sent:
        tier: dict[str, Any] = {"name": rows[i]["name"]}
        for f in TIER_FIELDS[1:]:
            if rows[i][f]:
                tier[f] = number_text(rows[i][f])
        body["tiers"].append(tier)
    fields = {f"tiers.{i}.{f}" for i in range(len(rows)) for f in TIER_FIELDS} | {"reason"}
    try:
        if not sent:
            raise reject("field_required", path="tiers.0.name")
        api.put_tiers(v.ctx(), parse_model(api.TiersIn, body))
    except KimiaError as error:
        if error.path and error.path.startswith("tiers."):  # the n-th tier sent is the form's row sent[n]
            parts = error.path.split(".")
            if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) < len(sent):
                error.path = ".".join(["tiers", str(sent[int(parts[1])]), *parts[2:]])
        return _page(v, errors=field_errors(error, v.lang, fields), rows=rows[:max(sent) + 1] if sent else [], status=status_of(error.code))
    return redirect(url_for("panel.tiers.tiers", notice="tiers.saved"))


@PANEL.page("/tiers/move", roles=SUPPORT, methods=("POST",))
def move(v: Viewer) -> Any:
    """Move a member to a tier by hand (POST /members/<id>/tier), with a reason."""
    typed = form_values(["member_id", "tier", "reason"], numbers=["member_id"], keep_empty=True)
    try:
        member = typed["member_id"]
        if not member:
            raise reject("field_required", path="member_id")
        if not member.isdigit() or not 1 <= int(member) <= 2**62:
            raise reject("field_invalid", path="member_id", detail="a member number")
        api.move_member(v.ctx(), int(member), parse_model(api.MoveIn, {"tier": typed["tier"], "reason": typed["reason"]}))
    except KimiaError as error:
        return _page(v, errors=field_errors(error, v.lang, ["member_id", "tier", "reason"]), move=typed, status=status_of(error.code))
    return redirect(url_for("panel.tiers.tiers", notice="tiers.moved"))


@PANEL.page("/tiers/close/preview", roles=CLUB_ADMIN)
def preview(v: Viewer) -> Any:
    """What closing the period now would do; nothing is written."""
    force = request.args.get("force") == "1"
    ctx = v.ctx()
    try:
        found = api.preview_close(ctx, api.CloseIn(force=force))
    except KimiaError as error:
        return _page(v, errors=field_errors(error, v.lang, []), status=status_of(error.code))
    return _preview_page(v, found, force=force)


def _preview_page(v: Viewer, found: api.ClosePreviewOut, *, force: bool, errors: dict[str, str] | None = None,
                  status: int = 200) -> Any:
    end = int(dt.datetime.fromisoformat(found.period_end.at).timestamp())
    return render("panel/tiers/preview.html", status=status, found=found, period_end=end, period_end_at=found.period_end.at,
                  reasons=_reasons(), force=force, errors=errors or {})


@PANEL.page("/tiers/close", roles=CLUB_ADMIN, methods=("POST",))
def close(v: Viewer) -> Any:
    """Close the period at the end the preview showed, once confirmed (one close per form)."""
    force = request.form.get("force") == "1"
    end = request.form.get("period_end", "")[:40]
    parsed = api.CloseIn(period_end=end or None, force=force)
    try:
        if request.form.get("confirm") != "1":
            raise reject("field_required", path="confirm")
        api.close(v.ctx(idem_key=posted_form_key()), parsed)
    except KimiaError as error:
        errors = field_errors(error, v.lang, ["confirm"])
        try:
            found = api.preview_close(v.ctx(), parsed)
        except KimiaError:
            return _page(v, errors=errors, status=status_of(error.code))
        return _preview_page(v, found, force=force, errors=errors, status=status_of(error.code))
    return redirect(url_for("panel.tiers.tiers", notice="tiers.closed"))
