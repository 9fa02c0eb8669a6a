"""Lotteries (SPEC R10): opened with a commitment to a secret seed (its SHA-256 is shown; the club
keeps the seed), entries won by purchases under the club's rules, a draw that reveals the seed
(anyone can recompute the winners from the seed and the entries), the winners, and the lottery's
trail in the audit log.

Through the JSON API's handlers (kimia/web/api/routes/lotteries.py) acting as the viewer.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError
from kimia.service import backoffice_views as views
from kimia.web.api.dispatch import parse_model
from kimia.web.api.problems import status_of
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import lotteries as api
from kimia.web.panel import i18n
from kimia.web.panel.access import CLUB_ADMIN, CLUB_READ, MARKETING, PANEL, Viewer
from kimia.web.panel.offers_forms import field_errors, form_values
from kimia.web.panel.site import render

FIELDS = ("name_fa", "name_en", "prizes", "seed_commitment", "reason")
NOTICES = ("lotteries.created", "lotteries.drawn")
#: Audit actions of a lottery, and the payload key naming it.
TRAIL = (("open_lottery", "id"), ("draw_lottery", "lottery_id"))

i18n.add({
    "nav.lotteries": ("قرعه‌کشی‌ها", "Lotteries"),
    "lotteries.title": ("قرعه‌کشی‌ها", "Lotteries"),
    "lotteries.intro": ("هنگام ساخت قرعه‌کشی فقط هش SHA-256 بذر مخفی ثبت می‌شود و بذر نزد باشگاه می‌ماند؛ در قرعه‌کشی بذر اعلام می‌شود "
                        "و هر کسی می‌تواند برندگان را از روی بذر و شانس‌ها دوباره حساب کند.",
                        "Opening a lottery records only the SHA-256 of a secret seed the club keeps; the draw reveals the seed, "
                        "and anyone can recompute the winners from the seed and the entries."),
    "lotteries.none": ("هنوز قرعه‌کشی‌ای ساخته نشده است.", "No lottery yet."),
    "lotteries.name": ("نام", "Name"),
    "lotteries.name_fa": ("نام فارسی", "Persian name"),
    "lotteries.name_en": ("نام انگلیسی", "English name"),
    "lotteries.prizes": ("جایزه‌ها", "Prizes"),
    "lotteries.prizes_hint": ("هر جایزه در یک خط، به ترتیب رتبه؛ برای هر جایزه یک برنده انتخاب می‌شود.",
                              "One prize a line, in rank order; one winner is drawn for each."),
    "lotteries.commitment": ("تعهد بذر (هش SHA-256)", "Seed commitment (SHA-256)"),
    "lotteries.commitment_hint": ("۶۴ نویسهٔ هگز کوچک؛ بذر را جایی امن نگه دارید، برای قرعه‌کشی لازم است.",
                                  "64 lowercase hex characters; keep the seed somewhere safe: the draw needs it."),
    "lotteries.seed_helper": ("بذر مخفی (فقط در مرورگر شما)", "Secret seed (stays in your browser)"),
    "lotteries.seed_helper_hint": ("هش آن همین‌جا در مرورگر حساب و در فیلد تعهد نوشته می‌شود؛ خود بذر فرستاده نمی‌شود.",
                                   "Its hash is computed here in the browser and written into the commitment; the seed is not sent."),
    "lotteries.status": ("وضعیت", "Status"),
    "lotteries.status.open": ("باز", "Open"),
    "lotteries.status.drawn": ("قرعه‌کشی‌شده", "Drawn"),
    "lotteries.entries": ("شانس‌ها", "Entries"),
    "lotteries.entrants": ("شرکت‌کنندگان", "Entrants"),
    "lotteries.create": ("قرعه‌کشی تازه", "New lottery"),
    "lotteries.submit": ("ثبت قرعه‌کشی", "Open the lottery"),
    "lotteries.created": ("قرعه‌کشی ثبت شد؛ از این پس قاعده‌ها می‌توانند به آن شانس بدهند.",
                          "The lottery is open; rules may give entries in it from now on."),
    "lotteries.drawn_at": ("زمان قرعه‌کشی", "Drawn at"),
    "lotteries.seed": ("بذر مخفی", "Secret seed"),
    "lotteries.seed_hint": ("همان بذری که هشش هنگام ساخت ثبت شد.", "The seed whose hash was committed at the opening."),
    "lotteries.revealed": ("بذر اعلام‌شده", "Revealed seed"),
    "lotteries.draw": ("قرعه‌کشی با اعلام بذر", "Draw by revealing the seed"),
    "lotteries.draw_submit": ("قرعه‌کشی", "Draw"),
    "lotteries.draw_confirm": ("قرعه‌کشی فقط یک بار انجام می‌شود. ادامه می‌دهید؟", "A lottery is drawn once. Go on?"),
    "lotteries.drawn": ("قرعه‌کشی انجام شد و برندگان مشخص شدند.", "The lottery is drawn; the winners are below."),
    "lotteries.winners": ("برندگان", "Winners"),
    "lotteries.rank": ("رتبه", "Rank"),
    "lotteries.member": ("شمارهٔ عضو", "Member number"),
    "lotteries.prize": ("جایزه", "Prize"),
    "lotteries.no_winners": ("هنوز قرعه‌کشی نشده است.", "Not drawn yet."),
    "lotteries.trail": ("سابقه در گزارش ممیزی", "Audit trail"),
    "lotteries.when": ("زمان", "When"),
    "lotteries.who": ("انجام‌دهنده", "Who"),
    "lotteries.action": ("اقدام", "Action"),
    "lotteries.action.open_lottery": ("ساخت و ثبت تعهد", "Opened with the commitment"),
    "lotteries.action.draw_lottery": ("قرعه‌کشی و اعلام بذر", "Drawn, seed revealed"),
    "lotteries.back": ("بازگشت به قرعه‌کشی‌ها", "Back to lotteries"),
})


def _all(v: Viewer) -> list[api.LotteryOut]:
    ctx = v.ctx()
    found: list[api.LotteryOut] = []
    cursor = None
    while len(found) < 1_000:
        page = api.list_lotteries(ctx, PageQuery(limit=200, cursor=cursor))
        found += page.items
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    return found


def _list_page(v: Viewer, *, errors: dict[str, str] | None = None, typed: dict[str, Any] | None = None, status: int = 200) -> Any:
    notice = request.args.get("notice")
    return render("panel/lotteries/lotteries.html", status=status, lotteries=_all(v), errors=errors or {}, typed=typed or {},
                  may_create=v.can(MARKETING), notice=notice if notice in NOTICES else None)


@PANEL.page("/lotteries", roles=CLUB_READ, menu=("nav.lotteries", 50))
def lotteries(v: Viewer) -> Any:
    """The club tree's lotteries with their commitments, entries and status."""
    return _list_page(v)


@PANEL.page("/lotteries/create", roles=MARKETING, methods=("POST",))
def create(v: Viewer) -> Any:
    """Open a lottery (POST /lotteries) with the commitment typed, audited with the viewer and reason."""
    typed = form_values(FIELDS)
    typed["seed_commitment"] = typed.get("seed_commitment", "").strip().lower()
    prizes = [line.strip() for line in request.form.get("prizes", "").splitlines() if line.strip()]
    typed["prizes"] = request.form.get("prizes", "")
    body = {k: val for k, val in typed.items() if k != "prizes"} | {"prizes": prizes}
    try:
        api.open_lottery(v.ctx(), parse_model(api.LotteryIn, body))
    except KimiaError as error:
        if error.path and error.path.startswith("prizes"):
            error.path = "prizes"
        return _list_page(v, errors=field_errors(error, v.lang, FIELDS), typed=typed, status=status_of(error.code))
    return redirect(url_for("panel.lotteries.lotteries", notice="lotteries.created"))


def _trail(v: Viewer, lottery: api.LotteryOut) -> list[views.AuditEntry]:
    """The audit rows naming this lottery (its opening and its draw), oldest first."""
    ctx = v.ctx()
    rows: list[views.AuditEntry] = []
    for action, key in TRAIL:
        for row in views.audit_log(ctx.svc, ctx.root(), before_id=0, limit=views.MAX_PAGE, action=action):
            if isinstance(row.payload, dict) and row.payload.get(key) == lottery.id:
                rows.append(row)
    return sorted(rows, key=lambda r: r.id)


def _detail(v: Viewer, lottery_id: int, *, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    found = api.get_lottery(v.ctx(), lottery_id)
    notice = request.args.get("notice")
    drawn_at = None
    trail = _trail(v, found)
    for row in trail:
        if row.action == "draw_lottery":
            drawn_at = row.at
    return render("panel/lotteries/lottery.html", status=status, lot=found, trail=trail, drawn_at=drawn_at, errors=errors or {},
                  may_draw=v.can(CLUB_ADMIN) and found.status == "open", notice=notice if notice in NOTICES else None)


@PANEL.page("/lotteries/<int:lottery_id>", roles=CLUB_READ)
def lottery(v: Viewer, lottery_id: int) -> Any:
    """One lottery: its commitment, entries, the draw form, winners and audit trail."""
    return _detail(v, lottery_id)


@PANEL.page("/lotteries/<int:lottery_id>/draw", roles=CLUB_ADMIN, methods=("POST",))
def draw(v: Viewer, lottery_id: int) -> Any:
    """Draw the winners by revealing the seed (POST /lotteries/<id>/draw)."""
    api.get_lottery(v.ctx(), lottery_id)  # another club's lottery: not found, before anything else
    try:
        api.draw(v.ctx(), lottery_id, parse_model(api.DrawIn, {"seed": request.form.get("seed", "").strip()}))
    except KimiaError as error:
        if error.code == "seed_mismatch":
            error.path = "seed"
        return _detail(v, lottery_id, errors=field_errors(error, v.lang, ["seed"]), status=status_of(error.code))
    return redirect(url_for("panel.lotteries.lottery", lottery_id=lottery_id, notice="lotteries.drawn"))
