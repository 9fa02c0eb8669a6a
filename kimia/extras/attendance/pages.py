"""The attendance extra's panel pages.

The merchant's staff (role ``merchant``): *Attendance* (who is in now and a day's records), the
staff list (register, disable, enable), corrections, the period report with its CSV. Club staff
(``admin``, ``marketer``, ``support``, ``read_only``): the report per merchant and person and the
records behind it; ``admin`` and ``support`` may correct records too (audited). A merchant's staff
see only their merchant; club staff only their club tree's merchants (another's: 404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kimia.plugins.types import MenuEntry, MerchantInfo, PageCall, PanelPage, Refusal
from kimia.web.panel import fmt

from . import api, store

MERCHANT = frozenset({"merchant"})
CLUB_READ = frozenset({"admin", "marketer", "support", "read_only"})
CORRECTORS = frozenset({"merchant", "admin", "support"})
READERS = MERCHANT | CLUB_READ
PAGE = 50


def _merchant_scope(call: PageCall, value: str | None = None) -> MerchantInfo | None:
    """The merchant a page is about: a merchant's staff their own; club staff the one named
    (``merchant_id``), of their club tree (another's is ``unknown_merchant``, 404), or None."""
    caller = call.caller
    if caller.kind == "merchant":
        if caller.merchant_id is None:
            raise Refusal("role_forbidden", action="attendance")
        if value not in (None, "") and str(value) != str(caller.merchant_id):
            raise Refusal("unknown_merchant", path="merchant_id")
        return store.find_merchant(call.services, caller.merchant_id, caller.club_id)
    if value in (None, ""):
        return None
    text = fmt.latin_digits(str(value)).strip()
    if not text.isdigit() or len(text) > 18:
        raise Refusal("unknown_merchant", path="merchant_id")
    return store.find_merchant(call.services, int(text), caller.club_id)


def _name(merchant: MerchantInfo, lang: str) -> str:
    return merchant.name_fa if lang == "fa" or not merchant.name_en else merchant.name_en


def _club(call: PageCall) -> int:
    if call.caller.club_id is None:
        raise Refusal("role_forbidden", action="attendance")
    return call.caller.club_id


def _choices(call: PageCall, club: int) -> list[tuple[int, str]]:
    """(id, name) of the club tree's merchants with registered staff, for club staff to pick."""
    if call.caller.kind == "merchant":
        return []
    ids = call.services.read(lambda db: store.merchants_with_staff(db, club))
    return [(m, _name(call.services.merchant(m), call.caller.lang)) for m in ids]


def _offset(call: PageCall, merchant: MerchantInfo | None) -> int:
    return call.services.utc_offset_min(merchant.club_id if merchant else _club(call))


def _day(call: PageCall, offset: int, errors: dict[str, str]) -> tuple[dt.date, str]:
    """The day asked for (``?day=`` Jalali), else today; a bad one is shown at its field."""
    typed = call.query.get("day", "").strip()
    today = store.today(call.services, offset)
    if not typed:
        return today, store.jalali_text(today, call.caller.lang)
    try:
        return fmt.parse_jdate(typed, "day"), typed
    except Exception as exc:
        errors.update(call.errors_of(exc))
        return today, typed


def _period(call: PageCall, offset: int, errors: dict[str, str]) -> tuple[dt.date, dt.date, str, str]:
    """``?from=`` and ``?to=`` (Jalali): this local month so far by default."""
    today = store.today(call.services, offset)
    month_start = today - dt.timedelta(days=fmt.jalali(today)[2] - 1)
    first, last = month_start, today
    typed_from, typed_to = call.query.get("from", "").strip(), call.query.get("to", "").strip()
    try:
        if typed_from:
            first = fmt.parse_jdate(typed_from, "from")
        if typed_to:
            last = fmt.parse_jdate(typed_to, "to")
        if last < first:
            raise Refusal("field_invalid", path="to", detail=("a day not before the first", "روزی نه پیش از روز اول"))
        if (last - first).days >= api.MAX_DAYS:
            raise Refusal("field_invalid", path="to", detail=(f"a period of at most {api.MAX_DAYS} days",
                                                              f"بازه‌ای حداکثر {api.MAX_DAYS} روزه"))
    except Exception as exc:
        errors.update(call.errors_of(exc))
        first, last = month_start, today
    lang = call.caller.lang
    return first, last, typed_from or store.jalali_text(first, lang), typed_to or store.jalali_text(last, lang)


# --- the merchant's day ------------------------------------------------------------------------------


def home(call: PageCall) -> Any:
    merchant = _merchant_scope(call)
    assert merchant is not None
    offset = _offset(call, merchant)
    errors: dict[str, str] = {}
    day, day_value = _day(call, offset, errors)
    start, end = store.day_bounds(day, day, offset)
    now = call.services.now()

    def read(db: Any) -> tuple[list[store.Record], list[store.Record], int]:
        inside = store.present(db, merchant.id, now)
        rows = store.records(db, merchant_ids=[merchant.id], start=start, end=end, limit=500)
        staff = len(store.list_staff(db, merchant_ids=[merchant.id], active_only=True, limit=10_000))
        return inside, sorted(rows, key=lambda r: (r.at, r.id)), staff

    inside, rows, staff_count = call.services.read(read)
    return call.render("attendance/home.html", merchant_name=_name(merchant, call.caller.lang), present=inside, rows=rows,
                       day_value=day_value, day_text=store.jalali_text(day, call.caller.lang), errors=errors,
                       staff_count=staff_count, is_today=day == store.today(call.services, offset), notice=_notice(call))


def _notice(call: PageCall) -> str | None:
    return {"registered": "attendance.registered", "corrected": "attendance.corrected", "changed": "attendance.changed"}.get(
        call.query.get("done", ""))


# --- staff --------------------------------------------------------------------------------------------


def staff(call: PageCall) -> Any:
    merchant = _merchant_scope(call)
    assert merchant is not None
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    if call.method == "POST":
        form = dict(call.form)
        try:
            key = call.posted_form_key()
            code = store.clean_code(form.get("code"), "code")
            name = store.clean_name(form.get("name"), "name")
            store.register(call.services, merchant, code=code, name=name, idem_key=f"panel:{call.caller.actor}:{key}",
                           actor=call.caller.actor)
        except Exception as exc:
            errors = call.errors_of(exc)
        else:
            return call.redirect(call.url_for("panel.attendance.staff", done="registered"))
    rows = call.services.read(lambda db: store.list_staff(db, merchant_ids=[merchant.id], limit=10_000))
    form.pop("code", None)  # a staff card number is never shown back
    return call.render("attendance/staff.html", merchant_name=_name(merchant, call.caller.lang), staff=rows, errors=errors, form=form,
                       form_key=call.form_key(), notice=_notice(call), status=400 if errors else 200)


def staff_state(call: PageCall) -> Any:
    merchant = _merchant_scope(call)
    assert merchant is not None
    staff_id = int(call.params["staff_id"])
    found = call.services.read(lambda db: store.staff_by_id(db, staff_id))
    if found is None or found.merchant_id != merchant.id:
        raise Refusal("not_found", path="staff_id", what=("staff member", "کارمند"))
    active = call.form.get("active") == "1"
    store.set_active(call.services, found, active=active, actor=call.caller.actor,
                     reason="enabled in the panel" if active else "disabled in the panel")
    return call.redirect(call.url_for("panel.attendance.staff", done="changed"))


# --- corrections --------------------------------------------------------------------------------------


def correct(call: PageCall) -> Any:
    """Void a record, replace it with another time, or add a missing record; with a reason."""
    record = None
    record_text = call.query.get("record_id", "").strip()
    if record_text:
        if not record_text.isdigit() or len(record_text) > 18:
            raise Refusal("not_found", path="record_id", what=("attendance record", "رکورد حضور"))
        record = call.services.read(lambda db: store.record_by_id(db, int(record_text)))
        if record is None:
            raise Refusal("not_found", path="record_id", what=("attendance record", "رکورد حضور"))
        try:
            merchant = _merchant_scope(call, str(record.merchant_id))
        except Refusal:
            raise Refusal("not_found", path="record_id", what=("attendance record", "رکورد حضور")) from None
    else:
        merchant = _merchant_scope(call, call.query.get("merchant_id"))
        if merchant is None:
            raise Refusal("field_required", path="merchant_id")
    assert merchant is not None
    offset = _offset(call, merchant)
    people = call.services.read(lambda db: store.list_staff(db, merchant_ids=[merchant.id], limit=10_000))
    errors: dict[str, str] = {}
    lang = call.caller.lang
    today = store.jalali_text(store.today(call.services, offset), lang)
    form: dict[str, str] = {"action": "replace" if record else "add", "day": today, "direction": record.direction if record else "in"}
    if record is not None:
        local = fmt.local_time(record.at, offset)
        form["day"] = store.jalali_text(local.date(), lang)
        form["time"] = fmt.digits(f"{local.hour:02d}:{local.minute:02d}", lang)
    if call.method == "POST":
        form = dict(call.form)
        try:
            key = call.posted_form_key()
            action = form.get("action", "add")
            at = None
            direction = None
            staff_id = None
            if action in ("replace", "add"):
                day = fmt.parse_jdate(form.get("day", ""), "day")
                hour, minute = store.parse_clock(form.get("time", ""), "time")
                at = store.at_of(day, hour, minute, offset)
                direction = store.clean_direction(form.get("direction"))
                if record is None:
                    staff_text = fmt.latin_digits(form.get("staff_id", "")).strip()
                    if not staff_text:
                        raise Refusal("field_required", path="staff_id")
                    staff_id = int(staff_text) if staff_text.isdigit() and len(staff_text) < 18 else 0
                if at > call.services.now():
                    raise Refusal("field_invalid", path="time", detail=("a time not in the future", "زمانی که هنوز نرسیده نیست"))
            elif action != "void" or record is None:
                raise Refusal("field_invalid", path="action", detail=("void, replace or add", "ابطال، جایگزینی یا افزودن"))
            reason = store.clean_reason(form.get("reason"))
            store.correct(call.services, merchant, record_id=record.id if record else None, staff_id=staff_id, direction=direction,
                          at=at, reason=reason, idem_key=f"panel:{call.caller.actor}:{key}", actor=call.caller.actor,
                          source="panel")
        except Exception as exc:
            errors = call.errors_of(exc)
        else:
            if call.caller.kind == "merchant":
                return call.redirect(call.url_for("panel.attendance.home", done="corrected"))
            return call.redirect(call.url_for("panel.attendance.records", merchant_id=merchant.id, done="corrected"))
    return call.render("attendance/correct.html", merchant=merchant, merchant_name=_name(merchant, lang), record=record, people=people,
                       errors=errors, form=form, form_key=call.form_key(), status=400 if errors else 200)


# --- records and the report ------------------------------------------------------------------------


def records(call: PageCall) -> Any:
    club = _club(call)
    merchant = _merchant_scope(call, call.query.get("merchant_id"))
    offset = _offset(call, merchant)
    errors: dict[str, str] = {}
    first, last, from_value, to_value = _period(call, offset, errors)
    start, end = store.day_bounds(first, last, offset)
    staff_id = None
    staff_text = call.query.get("staff_id", "").strip()
    if staff_text.isdigit() and len(staff_text) < 18:
        staff_id = int(staff_text)
    after = call.query.get("after", "")
    after_id = int(after) if after.isdigit() and len(after) < 18 else 0
    rows = call.services.read(lambda db: store.records(db, merchant_ids=[merchant.id] if merchant else None, root_club_id=club,
                                                       start=start, end=end, staff_id=staff_id, after_id=after_id, limit=PAGE + 1))
    next_url = None
    if len(rows) > PAGE:
        rows = rows[:PAGE]
        query = {k: v for k, v in call.query.items() if k not in ("after", "done")}
        next_url = call.url_for("panel.attendance.records", **query, after=rows[-1].id)
    lang = call.caller.lang
    names = {m: _name(call.services.merchant(m), lang) for m in sorted({r.merchant_id for r in rows})}
    return call.render("attendance/records.html", merchant=merchant, merchant_name=_name(merchant, lang) if merchant else "",
                       rows=rows, names=names, errors=errors, from_value=from_value, to_value=to_value, next_url=next_url,
                       can_correct=call.caller.kind in CORRECTORS, staff_id=staff_id, notice=_notice(call),
                       choices=_choices(call, club))


def report(call: PageCall) -> Any:
    club = _club(call)
    merchant = _merchant_scope(call, call.query.get("merchant_id"))
    offset = _offset(call, merchant)
    errors: dict[str, str] = {}
    first, last, from_value, to_value = _period(call, offset, errors)
    rows = call.services.read(lambda db: store.report(db, merchant_ids=[merchant.id] if merchant else None, root_club_id=club,
                                                      first=first, last=last, offset_min=offset))
    lang = call.caller.lang
    names = {m: _name(call.services.merchant(m), lang) for m in sorted({r.merchant_id for r in rows})}
    csv_url = call.url_for("panel.attendance.report_csv", **{k: v for k, v in call.query.items() if k in ("from", "to", "merchant_id")})
    totals = (sum(r.days_present for r in rows), sum(r.minutes for r in rows), sum(r.open_records for r in rows))
    return call.render("attendance/report.html", merchant=merchant, merchant_name=_name(merchant, lang) if merchant else "",
                       rows=rows, names=names, errors=errors, from_value=from_value, to_value=to_value, csv_url=csv_url,
                       first_en=store.jalali_text(first), last_en=store.jalali_text(last), totals=totals,
                       period_text=f"{store.jalali_text(first, lang)} – {store.jalali_text(last, lang)}", choices=_choices(call, club))


def report_csv(call: PageCall) -> Any:
    club = _club(call)
    merchant = _merchant_scope(call, call.query.get("merchant_id"))
    offset = _offset(call, merchant)
    errors: dict[str, str] = {}
    first, last, _, _ = _period(call, offset, errors)
    if errors:
        path, message = next(iter(errors.items()))
        raise Refusal("invalid_request", path=path or None, detail=message)
    rows = call.services.read(lambda db: store.report(db, merchant_ids=[merchant.id] if merchant else None, root_club_id=club,
                                                      first=first, last=last, offset_min=offset))
    names = {m: _name(call.services.merchant(m), "fa") for m in sorted({r.merchant_id for r in rows})}
    body = store.report_csv(rows, names, first, last)
    filename = f"attendance-{first.isoformat()}-{last.isoformat()}.csv"
    return body, 200, {"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{filename}"'}


PAGES = (
    PanelPage("panel", "/attendance", "home", home, MERCHANT, menu=MenuEntry("حضور و غیاب", "Attendance", 150)),
    PanelPage("panel", "/attendance/staff", "staff", staff, MERCHANT, methods=("GET", "POST")),
    PanelPage("panel", "/attendance/staff/<int:staff_id>/state", "staff_state", staff_state, MERCHANT, methods=("POST",)),
    PanelPage("panel", "/attendance/correct", "correct", correct, CORRECTORS, methods=("GET", "POST")),
    PanelPage("panel", "/attendance/records", "records", records, READERS),
    PanelPage("panel", "/attendance/report", "report", report, READERS,
              menu=MenuEntry("گزارش حضور و غیاب", "Attendance report", 151)),
    PanelPage("panel", "/attendance/report.csv", "report_csv", report_csv, READERS),
)
