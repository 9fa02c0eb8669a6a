"""The appointments extra's pages.

Portal (members): ``/portal/appointments``: the member's bookings with their codes and a cancel
button, and booking: a service of a merchant, a day (Jalali), its free slots, each with a Book
button (the form's key makes a double submit one booking).

Panel: ``/panel/appointments``: a day's bookings of a merchant (merchant staff: their own; club
staff: any of the club's), with confirm, check-in, no-show and cancel (with a reason) for the
merchant's staff and cancel (with a reason) for the club's admin and support;
``/panel/appointments/services`` and ``/panel/appointments/slots``: the merchant's services, its
cancellation and reminder settings, and publishing and closing slots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kimia.extras.appointments import store
from kimia.plugins.types import MenuEntry, PageCall, PanelPage, Refusal
from kimia.web.panel import fmt

CLUB_READ = frozenset({"admin", "marketer", "support", "read_only"})
MERCHANT = frozenset({"merchant"})
#: Who may act on a booking in the panel: the merchant's staff; the club's admin and support cancel.
ACTORS = frozenset({"merchant", "admin", "support"})
MEMBER = frozenset({"member"})
#: Refusals that say the request met a conflicting state (409), not bad input (400).
CONFLICTS = frozenset({"slot_taken", "slot_unavailable", "booking_not_cancellable", "booking_state", "exists_with_different_request"})
NOTICES = ("appointments.booked", "appointments.cancelled", "appointments.done", "appointments.saved", "appointments.published",
           "appointments.closed")
#: The form fields each page shows errors at; any other path is shown above the form.
PORTAL_FIELDS = ("day", "service_id")
SERVICE_FIELDS = ("name_fa", "name_en", "duration_min", "cancel_before_hours", "reminder_hours")
SLOT_FIELDS = ("service_id", "from", "to", "weekdays", "start", "end", "every_min", "capacity", "day")


def _status(exc: Exception) -> int:
    return 409 if getattr(exc, "code", "") in CONFLICTS else 400


def _errors(call: PageCall, exc: Exception, fields: tuple[str, ...]) -> dict[str, str]:
    """A refusal as a form shows it; a path the form has no field for is shown above it."""
    found = call.errors_of(exc)
    shown: dict[str, str] = {}
    for path, message in found.items():
        key = path if path in fields else ""
        shown[key] = (shown[key] + " " + message).strip() if key in shown else message
    return shown


def _key(call: PageCall, site: str) -> str:
    """The form's idempotency key, scoped to the person posting it."""
    return f"{site}:{call.caller.actor}:{call.posted_form_key()}"


def _notice(call: PageCall) -> str | None:
    notice = call.query.get("notice")
    return notice if notice in NOTICES else None


def _day(call: PageCall, value: str | None, offset: int) -> tuple[dt.date, dict[str, str]]:
    """The day a page shows (Jalali in the query; today by default) and the error of a bad one."""
    if value:
        try:
            return fmt.parse_jdate(value, "day"), {}
        except Exception as exc:  # an invalid date: shown at the field, today shown instead
            return store.today(call.services, offset), call.errors_of(exc)
    return store.today(call.services, offset), {}


WEEKDAY_KEYS = {v: k for k, v in store.WEEKDAYS.items()}


def day_words(day: dt.date, lang: str) -> dict[str, str]:
    """A day as a heading reads it: its weekday's key (``appointments.wd.<key>``) and 25 Ordibehesht 1404."""
    y, _, _ = fmt.jalali(day)
    short = fmt.jday_label(day, lang)
    return {"wd": WEEKDAY_KEYS[day.weekday()], "short": short, "label": f"{short} {fmt.digits(y, lang)}"}


def hhmm(ts: int, offset: int, lang: str) -> str:
    local = fmt.local_time(ts, offset)
    return fmt.digits(f"{local.hour:02d}:{local.minute:02d}", lang)


def jday(day: dt.date) -> str:
    y, m, d = fmt.jalali(day)
    return f"{y:04d}/{m:02d}/{d:02d}"


def _names(call: PageCall, merchant_ids: list[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for merchant in merchant_ids:
        info = call.services.merchant(merchant)
        names[merchant] = (info.name_en or info.name_fa) if call.caller.lang == "en" else info.name_fa
    return names


def _member_names(call: PageCall, rows: list[tuple[Any, ...]]) -> dict[int, str]:
    names: dict[int, str] = {}
    for row in rows:
        member = int(row[4])
        if member not in names:
            names[member] = call.services.member(int(row[16]), member).name
    return names


def _service_name(call: PageCall, item: Mapping[str, Any]) -> str:
    fa, en = str(item.get("service_name_fa", item.get("name_fa", ""))), str(item.get("service_name_en", item.get("name_en", "")))
    return (en or fa) if call.caller.lang == "en" else fa


def _rules(call: PageCall, merchant: int) -> store.Rules:
    return call.services.read(lambda db: store.rules_in(db, merchant))


# --- the portal ------------------------------------------------------------------------------------


def portal_home(call: PageCall, *, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    caller = call.caller
    offset = call.services.utc_offset_min(store.club_of(caller))
    day, day_errors = _day(call, call.query.get("day"), offset)
    errors = {**day_errors, **(errors or {})}
    now = call.services.now()
    mine, _, _ = store.list_bookings(call.services, caller, {"from": (store.today(call.services, offset) - dt.timedelta(days=30)).isoformat(),
                                                             "limit": "100"})
    merchants = store.offering_merchants(call.services, caller)
    names = _names(call, merchants)
    services = store.list_services(call.services, caller, {"limit": "200"})["items"]
    rules = {m: _rules(call, m) for m in {int(r[1]) for r in mine}}
    bookings = []
    upcoming = [r for r in mine if int(r[5]) >= now]
    past = [r for r in reversed(mine) if int(r[5]) < now]
    for row in upcoming + past:
        item = store.booking_json(row, offset)
        hours = rules[int(row[1])].cancel_before_hours
        item.update(ts=int(row[5]), merchant=names.get(int(row[1])) or _names(call, [int(row[1])])[int(row[1])],
                    service=_service_name(call, item), cancellable=item["status"] in store.LIVE and now <= int(row[5]) - hours * 3600,
                    hours=hours)
        bookings.append(item)
    chosen = call.query.get("service_id", "")
    slots: list[dict[str, Any]] = []
    service = None
    if chosen:
        try:
            service_id = store.int_of(chosen, "service_id")
            service = next((s for s in services if s["id"] == service_id), None)
            if service is None:
                raise Refusal("not_found", path="service_id", what=("service", "خدمت"))
            found = store.list_slots(call.services, caller, {"service_id": str(service_id), "from": day.isoformat(),
                                                             "to": day.isoformat(), "free": "1", "limit": "200"})
            slots = [{**s, "ts": store.stamp_ts(s), "time": hhmm(store.stamp_ts(s), offset, caller.lang)} for s in found["items"]]
        except Exception as exc:
            errors = {**errors, **_errors(call, exc, PORTAL_FIELDS)}
    groups = [{"merchant": names[m], "services": [dict(s, label=_service_name(call, s)) for s in services if s["merchant_id"] == m]}
              for m in merchants]
    days = [{"value": jday(d), "current": d == day, **day_words(d, caller.lang)}
            for d in (store.today(call.services, offset) + dt.timedelta(days=i) for i in range(7))]
    return call.render("appointments/portal.html", status=status, bookings=bookings, groups=groups, slots=slots, service=service,
                       chosen=chosen, day_value=call.query.get("day") or jday(day), day_ts=fmt.day_start(day, offset) + 43_200,
                       days=days, day_words=day_words(day, caller.lang), errors=errors, notice=_notice(call), form_key=call.form_key(),
                       service_label=_service_name(call, service) if service else "",
                       merchant_label=names.get(int(service["merchant_id"]), "") if service else "")


def portal_book(call: PageCall) -> Any:
    try:
        store.book(call.services, call.caller, call.form.get("slot_id"), None, _key(call, "portal"))
    except Exception as exc:
        if getattr(exc, "code", "") in ("unknown_slot",):
            raise
        return portal_home(call, errors=_errors(call, exc, ()), status=_status(exc))
    return call.redirect(call.url_for("portal.appointments.home", notice="appointments.booked"))


def portal_cancel(call: PageCall) -> Any:
    try:
        store.change(call.services, call.caller, int(call.params["booking_id"]), "cancel", "", _key(call, "portal"))
    except Exception as exc:
        if getattr(exc, "code", "") in ("unknown_booking",):
            raise
        return portal_home(call, errors=_errors(call, exc, ()), status=_status(exc))
    return call.redirect(call.url_for("portal.appointments.home", notice="appointments.cancelled"))


# --- the panel: a day's bookings ---------------------------------------------------------------------


def panel_bookings(call: PageCall, *, errors: dict[str, str] | None = None, status: int = 200, form: Mapping[str, str] | None = None) -> Any:
    caller = call.caller
    source = form if form is not None else call.query
    offset = call.services.utc_offset_min(store.club_of(caller))
    day, day_errors = _day(call, source.get("day"), offset)
    errors = {**day_errors, **(errors or {})}
    merchants = [caller.merchant_id] if caller.merchant_id is not None else store.offering_merchants(call.services, caller)
    names = _names(call, merchants)
    chosen: int | None = None
    wanted = source.get("merchant_id", "")
    if wanted:  # another club's merchant is not found (404), another merchant's staff forbidden (403)
        chosen = store.merchant_for(call.services, caller, wanted)
        if chosen is not None and chosen not in names:
            names.update(_names(call, [chosen]))
    elif caller.merchant_id is not None:
        chosen = caller.merchant_id
    elif merchants:
        chosen = merchants[0]
    rows: list[tuple[Any, ...]] = []
    cursor = None
    if chosen is not None:
        rows, cursor, _ = store.list_bookings(call.services, caller, {"merchant_id": str(chosen), "day": day.isoformat(), "limit": "200",
                                                                      "cursor": call.query.get("cursor", "")})
    people = _member_names(call, rows)
    now = call.services.now()
    bookings = []
    for row in rows:
        item = store.booking_json(row, offset)
        item.update(ts=int(row[5]), time=hhmm(int(row[5]), offset, caller.lang), member=people.get(int(row[4]), ""),
                    service=_service_name(call, item), started=now >= int(row[5]))
        bookings.append(item)
    query = {"day": jday(day), **({"merchant_id": str(chosen)} if caller.merchant_id is None and chosen is not None else {})}
    return call.render(
        "appointments/bookings.html", status=status, bookings=bookings, merchants=[(m, names[m]) for m in merchants], chosen=chosen,
        merchant_name=names.get(chosen, "") if chosen is not None else "", day_value=source.get("day") or jday(day),
        day_words=day_words(day, caller.lang), errors=errors, notice=_notice(call), form_key=call.form_key(), manager=store.is_manager(caller), cancels=store.cancels_as_staff(caller),
        prev_url=call.url_for("panel.appointments.bookings", **{**query, "day": jday(day - dt.timedelta(days=1))}),
        next_url=call.url_for("panel.appointments.bookings", **{**query, "day": jday(day + dt.timedelta(days=1))}),
        more_url=call.url_for("panel.appointments.bookings", **query, cursor=cursor) if cursor else None,
        back=query, failed=(form or {}).get("booking_id", ""))


def panel_act(call: PageCall) -> Any:
    action = call.form.get("action", "")
    booking = int(call.params["booking_id"])
    back = {k: call.form[k] for k in ("day", "merchant_id") if call.form.get(k)}
    try:
        if action not in store.ACTIONS:
            raise Refusal("field_invalid", path="action", detail=(", ".join(store.ACTIONS), "، ".join(store.ACTIONS)))
        store.change(call.services, call.caller, booking, action, call.form.get("reason", ""), _key(call, "panel"))
    except Exception as exc:
        if getattr(exc, "code", "") in ("unknown_booking", "forbidden"):
            raise
        shown = call.errors_of(exc)
        return panel_bookings(call, errors={f"booking:{booking}": " ".join(shown.values())}, status=_status(exc),
                              form={**back, "booking_id": str(booking)})
    return call.redirect(call.url_for("panel.appointments.bookings", notice="appointments.done", **back))


# --- the panel: services and settings ----------------------------------------------------------------


def panel_services(call: PageCall) -> Any:
    caller = call.caller
    errors: dict[str, str] = {}
    failed = ""
    status = 200
    if call.method == "POST":
        failed = call.form.get("form", "service")
        try:
            if failed == "settings":
                store.set_settings(call.services, caller, call.form, _key(call, "panel"))
            else:
                store.create_service(call.services, caller, call.form, _key(call, "panel"))
            return call.redirect(call.url_for("panel.appointments.services", notice="appointments.saved"))
        except Exception as exc:
            errors, status = _errors(call, exc, SERVICE_FIELDS), _status(exc)
    services = store.list_services(call.services, caller, {"limit": "200"})["items"]
    settings = store.settings_of(call.services, caller, None)
    form = call.form if call.method == "POST" else {}
    return call.render("appointments/services.html", status=status, services=services, settings=settings, errors=errors,
                       failed=failed, form=form, notice=_notice(call), form_key=call.form_key())


# --- the panel: slots ----------------------------------------------------------------------------------


def panel_slots(call: PageCall) -> Any:
    caller = call.caller
    offset = call.services.utc_offset_min(store.club_of(caller))
    errors: dict[str, str] = {}
    status = 200
    if call.method == "POST":
        try:
            body = dict(call.form)
            body["weekdays"] = ",".join(k for k in store.WEEK_ORDER if call.form.get(f"wd_{k}"))
            done = store.publish_slots(call.services, caller, body, _key(call, "panel"))
            first = done["first"]["at"][:10]
            return call.redirect(call.url_for("panel.appointments.slots", notice="appointments.published",
                                              day=jday(dt.date.fromisoformat(first))))
        except Exception as exc:
            errors, status = _errors(call, exc, SLOT_FIELDS), _status(exc)
    day, day_errors = _day(call, call.query.get("day"), offset)
    errors = {**day_errors, **errors}
    services = store.list_services(call.services, caller, {"limit": "200"})["items"]
    labels = {s["id"]: _service_name(call, s) for s in services}
    found = store.list_slots(call.services, caller, {"from": day.isoformat(), "to": day.isoformat(), "limit": "200"})
    slots = [{**s, "time": hhmm(store.stamp_ts(s), offset, caller.lang), "ends": hhmm(store.stamp_ts(s, "ends_at"), offset, caller.lang),
              "service": labels.get(s["service_id"], "")} for s in found["items"]]
    form = dict(call.form) if call.method == "POST" else {}
    picked = {k for k in store.WEEK_ORDER if form.get(f"wd_{k}")} if form else set(store.WEEK_ORDER) - {"fri"}
    return call.render("appointments/slots.html", status=status, services=services, labels=labels, slots=slots, errors=errors,
                       form=form, picked=picked, week=store.WEEK_ORDER, day_value=call.query.get("day") or jday(day),
                       day_words=day_words(day, caller.lang),
                       today_value=jday(store.today(call.services, offset)), notice=_notice(call), form_key=call.form_key(),
                       prev_url=call.url_for("panel.appointments.slots", day=jday(day - dt.timedelta(days=1))),
                       next_url=call.url_for("panel.appointments.slots", day=jday(day + dt.timedelta(days=1))))


def panel_close_slot(call: PageCall) -> Any:
    slot = int(call.params["slot_id"])
    store.close_slot(call.services, call.caller, slot, _key(call, "panel"), store.text_of(call.form.get("reason"), "reason",
                                                                                         required=False, most=store.MAX_REASON))
    day = call.form.get("day", "")
    return call.redirect(call.url_for("panel.appointments.slots", notice="appointments.closed", **({"day": day} if day else {})))


def pages() -> list[PanelPage]:
    return [
        PanelPage("portal", "/appointments", "home", portal_home, MEMBER, menu=MenuEntry("نوبت‌دهی", "Appointments", 60)),
        PanelPage("portal", "/appointments/book", "book", portal_book, MEMBER, methods=("POST",)),
        PanelPage("portal", "/appointments/bookings/<int:booking_id>/cancel", "cancel", portal_cancel, MEMBER, methods=("POST",)),
        PanelPage("panel", "/appointments", "bookings", panel_bookings, MERCHANT | CLUB_READ,
                  menu=MenuEntry("نوبت‌ها", "Appointments", 170)),
        PanelPage("panel", "/appointments/bookings/<int:booking_id>/act", "act", panel_act, ACTORS, methods=("POST",)),
        PanelPage("panel", "/appointments/services", "services", panel_services, MERCHANT, methods=("GET", "POST"),
                  menu=MenuEntry("خدمات نوبت‌دهی", "Booking services", 171)),
        PanelPage("panel", "/appointments/slots", "slots", panel_slots, MERCHANT, methods=("GET", "POST"),
                  menu=MenuEntry("زمان‌های نوبت", "Booking slots", 172)),
        PanelPage("panel", "/appointments/slots/<int:slot_id>/close", "close_slot", panel_close_slot, MERCHANT, methods=("POST",)),
    ]
