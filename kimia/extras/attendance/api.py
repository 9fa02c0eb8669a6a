"""The attendance extra's API routes (``tag="attendance"``, docs/api.md).

Who sees what: a management key its club tree's merchants (``merchant_id`` names one, a merchant of
another club is ``unknown_merchant``, 404); an integration key bound to a merchant only that
merchant (a ``merchant_id`` naming another is 404 too); an integration key bound to no merchant
is ``forbidden``. Lists take ``limit`` (at most 200) and ``cursor`` and answer ``next_cursor``.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from kimia.plugins.types import ApiCall, ApiRoute, Caller, MerchantInfo, Refusal, RawAnswer, Services

from . import store

READERS = frozenset({"management", "integration"})
MAX_LIMIT = 200
#: The longest period a report or a list covers.
MAX_DAYS = 400


def staff_out(s: store.Staff, offset: int) -> dict[str, Any]:
    return {"id": s.id, "merchant_id": s.merchant_id, "name": s.name, "code_last4": s.code_last4, "active": s.active,
            "created_at": store.stamp(s.created_at, offset), "created_by": s.created_by}


def record_out(r: store.Record, offset: int) -> dict[str, Any]:
    voided = None
    if r.voided_by is not None:
        voided = {"by": r.voided_by, "actor": r.voided_actor, "reason": r.voided_reason,
                  "at": store.stamp(r.voided_at or 0, offset)}
    return {"id": r.id, "merchant_id": r.merchant_id, "staff": {"id": r.staff_id, "name": r.staff_name}, "kind": r.kind,
            "direction": r.direction, "at": store.stamp(r.at, offset), "source": r.source, "terminal_id": r.terminal_id,
            "actor": r.actor, "corrects": r.corrects_id, "reason": r.reason, "voided": voided}


# --- scoping ---------------------------------------------------------------------------------------


def bound(caller: Caller) -> int | None:
    """The merchant an integration key is bound to; an unbound one may not use attendance."""
    if caller.kind == "integration":
        if caller.merchant_id is None:
            raise Refusal("forbidden", action="use attendance without being bound to a merchant")
        return caller.merchant_id
    return None


def merchant_of(call: ApiCall, value: object, *, required: bool) -> MerchantInfo | None:
    """The merchant a request names (``merchant_id`` in the query or body), scoped to the caller."""
    own = bound(call.caller)
    if value in (None, ""):
        if own is not None:
            return store.find_merchant(call.services, own, call.caller.club_id)
        if required:
            raise Refusal("field_required", path="merchant_id")
        return None
    merchant_id = _int(value, "merchant_id")
    if own is not None and merchant_id != own:
        raise Refusal("unknown_merchant", path="merchant_id")
    return store.find_merchant(call.services, merchant_id, call.caller.club_id)


def _int(value: object, path: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isascii() or not text.isdigit() or len(text) > 18:
        raise Refusal("field_invalid", path=path, detail=("a positive integer id", "شناسهٔ عددی مثبت"))
    return int(text)


def _limit(call: ApiCall) -> int:
    text = call.query.get("limit", "")
    if not text:
        return 50
    value = _int(text, "limit")
    if not 1 <= value <= MAX_LIMIT:
        raise Refusal("field_invalid", path="limit", detail=(f"1 to {MAX_LIMIT}", f"۱ تا {MAX_LIMIT}"))
    return value


def _after(call: ApiCall) -> int:
    cursor = call.query.get("cursor", "")
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix == "at1" and number.isdigit() and len(number) < 19:
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise Refusal("invalid_cursor", path="cursor")


def _cursor(rows: list[Any], limit: int) -> str | None:
    if len(rows) < limit or not rows:
        return None
    return base64.urlsafe_b64encode(f"at1:{rows[-1].id}".encode()).decode().rstrip("=")


def _offset(call: ApiCall, merchant: MerchantInfo | None) -> int:
    club = merchant.club_id if merchant is not None else call.caller.club_id
    assert club is not None
    return call.services.utc_offset_min(club)


def period(services: Services, query: Any, offset: int) -> tuple[dt.date, dt.date]:
    """``from`` and ``to`` (local days, inclusive; ISO or Jalali): today when absent."""
    today = store.today(services, offset)
    first = store.parse_day(query.get("from"), "from") if query.get("from") else None
    last = store.parse_day(query.get("to"), "to") if query.get("to") else None
    first = first or last or today
    last = last or max(first, today)
    if last < first:
        raise Refusal("field_invalid", path="to", detail=("a day not before from", "روزی نه پیش از «از»"))
    if (last - first).days >= MAX_DAYS:
        raise Refusal("field_invalid", path="to", detail=(f"a period of at most {MAX_DAYS} days", f"بازه‌ای حداکثر {MAX_DAYS} روزه"))
    return first, last


def _club(call: ApiCall) -> int:
    if call.caller.club_id is None:
        raise Refusal("forbidden", action="act for a club")
    return call.caller.club_id


def _staff_of(call: ApiCall, staff_id: int) -> store.Staff:
    found = call.services.read(lambda db: store.staff_by_id(db, staff_id))
    if found is None:
        raise Refusal("not_found", path="staff_id", what=("staff member", "کارمند"))
    own = bound(call.caller)
    merchant = call.services.merchant(found.merchant_id)
    if (own is not None and found.merchant_id != own) or not store.in_club(merchant, call.caller.club_id):
        raise Refusal("not_found", path="staff_id", what=("staff member", "کارمند"))
    return found


def _key(call: ApiCall) -> str:
    if not call.idem_key:
        raise Refusal("missing_idempotency_key")
    return call.idem_key


# --- routes -----------------------------------------------------------------------------------------


def list_staff(call: ApiCall) -> Any:
    club = _club(call)
    merchant = merchant_of(call, call.query.get("merchant_id"), required=False)
    limit, after = _limit(call), _after(call)
    rows = call.services.read(lambda db: store.list_staff(db, merchant_ids=[merchant.id] if merchant else None, root_club_id=club,
                                                          after_id=after, limit=limit))
    offset = _offset(call, merchant)
    return {"items": [staff_out(s, offset) for s in rows], "next_cursor": _cursor(rows, limit)}


def add_staff(call: ApiCall) -> Any:
    _club(call)
    merchant = merchant_of(call, call.body.get("merchant_id"), required=True)
    assert merchant is not None
    code = store.clean_code(call.body.get("code"), "code")
    name = store.clean_name(call.body.get("name"), "name")
    staff = store.register(call.services, merchant, code=code, name=name, idem_key=_key(call), actor=call.caller.actor)
    return staff_out(staff, _offset(call, merchant))


def disable_staff(call: ApiCall) -> Any:
    _club(call)
    staff = _staff_of(call, int(call.params["staff_id"]))
    reason = " ".join(str(call.body.get("reason") or "").split()) or "disabled through the API"
    changed = store.set_active(call.services, staff, active=False, actor=call.caller.actor, reason=reason[:store.MAX_REASON])
    return staff_out(changed, call.services.utc_offset_min(staff.club_id))


def enable_staff(call: ApiCall) -> Any:
    _club(call)
    staff = _staff_of(call, int(call.params["staff_id"]))
    reason = " ".join(str(call.body.get("reason") or "").split()) or "enabled through the API"
    changed = store.set_active(call.services, staff, active=True, actor=call.caller.actor, reason=reason[:store.MAX_REASON])
    return staff_out(changed, call.services.utc_offset_min(staff.club_id))


def clock(call: ApiCall) -> Any:
    _club(call)
    if bound(call.caller) is None:
        raise Refusal("forbidden", action="clock staff in or out (an integration key bound to a merchant does)")
    merchant = merchant_of(call, None, required=True)
    assert merchant is not None
    code = store.clean_code(call.body.get("code"), "code")
    direction = store.clean_direction(call.body.get("direction"))
    record = store.clock(call.services, merchant, code=code, direction=direction, source="api", idem_key=_key(call),
                         actor=call.caller.actor)
    return record_out(record, _offset(call, merchant))


def list_records(call: ApiCall) -> Any:
    club = _club(call)
    merchant = merchant_of(call, call.query.get("merchant_id"), required=False)
    offset = _offset(call, merchant)
    first, last = period(call.services, call.query, offset)
    start, end = store.day_bounds(first, last, offset)
    staff_id = None
    if call.query.get("staff_id"):
        staff_id = _staff_of(call, _int(call.query["staff_id"], "staff_id")).id
    limit, after = _limit(call), _after(call)
    rows = call.services.read(lambda db: store.records(db, merchant_ids=[merchant.id] if merchant else None, root_club_id=club,
                                                       start=start, end=end, staff_id=staff_id, after_id=after, limit=limit))
    return {"items": [record_out(r, offset) for r in rows], "next_cursor": _cursor(rows, limit),
            "from": first.isoformat(), "to": last.isoformat()}


def _at(value: object, offset: int) -> int:
    """A moment: Unix seconds, or ISO 8601 (without an offset: the club's local time)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value or "").strip()
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Refusal("field_invalid", path="at", detail=("ISO 8601, e.g. 2026-12-07T08:00:00+03:30",
                                                          "ISO 8601، مثلاً 2026-12-07T08:00:00+03:30")) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset)))
    return int(when.timestamp())


def correct(call: ApiCall) -> Any:
    _club(call)
    body = call.body
    reason = store.clean_reason(body.get("reason"))
    record_id = _int(body["record_id"], "record_id") if body.get("record_id") not in (None, "") else None
    staff_id = _int(body["staff_id"], "staff_id") if body.get("staff_id") not in (None, "") else None
    if record_id is None and body.get("at") in (None, ""):
        raise Refusal("field_required", path="record_id")
    if record_id is not None:
        found = call.services.read(lambda db: store.record_by_id(db, record_id))
        if found is None:
            raise Refusal("not_found", path="record_id", what=("attendance record", "رکورد حضور"))
        merchant_id = found.merchant_id
    else:
        if staff_id is None:
            raise Refusal("field_required", path="staff_id")
        merchant_id = _staff_of(call, staff_id).merchant_id
    own = bound(call.caller)
    try:
        merchant = store.find_merchant(call.services, merchant_id, call.caller.club_id, "record_id")
    except Refusal:
        raise Refusal("not_found", path="record_id" if record_id is not None else "staff_id",
                      what=("attendance record", "رکورد حضور") if record_id is not None else ("staff member", "کارمند")) from None
    if own is not None and merchant.id != own:
        raise Refusal("not_found", path="record_id", what=("attendance record", "رکورد حضور"))
    offset = call.services.utc_offset_min(merchant.club_id)
    at = _at(body.get("at"), offset) if body.get("at") not in (None, "") else None
    direction = store.clean_direction(body.get("direction")) if body.get("direction") not in (None, "") else None
    if at is not None and record_id is None and direction is None:
        raise Refusal("field_required", path="direction")
    done = store.correct(call.services, merchant, record_id=record_id, staff_id=staff_id, direction=direction, at=at, reason=reason,
                         idem_key=_key(call), actor=call.caller.actor, source="api")
    return {"voided": record_out(done.voided, offset) if done.voided else None,
            "added": record_out(done.added, offset) if done.added else None}


def report(call: ApiCall) -> Any:
    club = _club(call)
    merchant = merchant_of(call, call.query.get("merchant_id"), required=False)
    offset = _offset(call, merchant)
    first, last = period(call.services, call.query, offset)
    rows = call.services.read(lambda db: store.report(db, merchant_ids=[merchant.id] if merchant else None, root_club_id=club,
                                                      first=first, last=last, offset_min=offset))
    names = _merchant_names(call.services, {r.merchant_id for r in rows}, call.caller.lang)
    if call.query.get("format") == "csv":
        return RawAnswer(store.report_csv(rows, names, first, last), "text/csv; charset=utf-8",
                         f"attendance-{first.isoformat()}-{last.isoformat()}.csv")
    if call.query.get("format") not in (None, "", "json"):
        raise Refusal("field_invalid", path="format", detail=("json or csv", "json یا csv"))
    return {"from": first.isoformat(), "to": last.isoformat(), "from_jalali": store.jalali_text(first),
            "to_jalali": store.jalali_text(last),
            "items": [{"merchant_id": p.merchant_id, "merchant": names.get(p.merchant_id, ""), "staff_id": p.staff_id, "name": p.name,
                       "code_last4": p.code_last4, "days_present": p.days_present, "minutes": p.minutes,
                       "open_records": p.open_records} for p in rows]}


def _merchant_names(services: Services, ids: set[int], lang: str) -> dict[int, str]:
    names = {}
    for merchant_id in sorted(ids):
        m = services.merchant(merchant_id)
        names[merchant_id] = m.name_fa if lang == "fa" or not m.name_en else m.name_en
    return names


ROUTES = (
    ApiRoute("GET", "/attendance/staff", list_staff, READERS, "The staff registered for attendance", "attendance"),
    ApiRoute("POST", "/attendance/staff", add_staff, READERS, "Register a staff member (code or card, and name)", "attendance",
             status=201),
    ApiRoute("POST", "/attendance/staff/<int:staff_id>/disable", disable_staff, READERS, "Disable a staff member", "attendance"),
    ApiRoute("POST", "/attendance/staff/<int:staff_id>/enable", enable_staff, READERS, "Enable a disabled staff member",
             "attendance"),
    ApiRoute("POST", "/attendance/clock", clock, frozenset({"integration"}), "Clock a staff member in or out", "attendance"),
    ApiRoute("GET", "/attendance/records", list_records, READERS, "Attendance records of a period", "attendance"),
    ApiRoute("POST", "/attendance/corrections", correct, READERS, "Void a record and/or add one, with a reason", "attendance"),
    ApiRoute("GET", "/attendance/report", report, READERS, "Days, minutes and open records per person (JSON or CSV)",
             "attendance"),
)
