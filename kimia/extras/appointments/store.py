"""What the appointments extra does, whoever asks (the API, the panel, the portal, a terminal):
each function takes the plugin's :class:`Services` and the :class:`Caller`, checks what the caller
may see and do, and reads or writes in one transaction.

Who may do what:

- *managers*: a club's management key, a key bound to a merchant and the merchant's panel users
  (for their merchant only): services, slots, settings, and every change of a booking;
- club staff in the panel: admin and support cancel bookings with a reason; every club role reads;
- *members*: a member token or the portal books for itself and cancels its own bookings up to the
  merchant's limit; an integration key not bound to a merchant (the club's website) does the same
  on a member's behalf, naming the member (``M:+98912...``).

A caller sees only its club's rows (a sub-club's staff their sub-club's), a merchant's only its
merchant's, a member only its own bookings; anything else is answered as not there.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kimia.plugins.types import Caller, Db, Refusal, Services
from kimia.web.panel import fmt

#: Bookings that hold a seat and a code and may still change.
LIVE = ("booked", "confirmed")
STATES = ("booked", "confirmed", "checked_in", "cancelled", "no_show")
ACTIONS = ("cancel", "confirm", "check_in", "no_show")
#: Booking states and actions as the refusals name them, in both languages.
STATE_WORDS: dict[str, tuple[str, str]] = {
    "booked": ("رزروشده", "booked"),
    "confirmed": ("تأییدشده", "confirmed"),
    "checked_in": ("حاضرشده", "checked in"),
    "cancelled": ("لغوشده", "cancelled"),
    "no_show": ("غایب", "a no-show"),
    "upcoming": ("هنوز شروع‌نشده", "not started yet"),
}
ACTION_WORDS: dict[str, tuple[str, str]] = {
    "cancel": ("لغو", "cancelled"),
    "confirm": ("تأیید", "confirmed"),
    "check_in": ("ثبت حضور", "checked in"),
    "no_show": ("ثبت غیبت", "marked a no-show"),
}
WEEKDAYS = {"sat": 5, "sun": 6, "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4}
WEEK_ORDER = ("sat", "sun", "mon", "tue", "wed", "thu", "fri")

DEFAULT_CANCEL_BEFORE_HOURS = 2
DEFAULT_REMINDER_HOURS = 24
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
#: The most rows a CSV of bookings holds.
MAX_CSV_ROWS = 10_000
#: Bounds of what a merchant publishes (a limit on everything).
MAX_SLOTS_PER_REQUEST = 2000
MAX_DAYS_PER_REQUEST = 92
MAX_CAPACITY = 100
MAX_DURATION_MIN = 720
MAX_HOURS = 720
MAX_NAME = 100
MAX_REASON = 500

_SERVICE = "id, merchant_id, name_fa, name_en, duration_min, active"
_SLOT = "id, merchant_id, service_id, starts_at, ends_at, capacity, taken, status"
_BOOKING = ("b.id, b.merchant_id, b.service_id, b.slot_id, b.member_id, b.starts_at, s.ends_at, b.status, b.code,"
            " b.booked_at, b.booked_by, b.confirmed_at, b.checked_in_at, b.closed_at, b.closed_by, b.cancel_reason,"
            " b.root_club_id, v.name_fa, v.name_en")
_BOOKING_FROM = ("appointments_bookings b JOIN appointments_slots s ON s.id = b.slot_id"
                 " JOIN appointments_services v ON v.id = b.service_id")


def word(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "fa" else pair[1]


def pair(words: tuple[str, str]) -> tuple[str, str]:
    """Words ``(Persian, English)`` as a refusal's parameter takes them: ``(English, Persian)``."""
    return words[1], words[0]


# --- who asks ----------------------------------------------------------------------------------


def club_of(caller: Caller) -> int:
    if caller.club_id is None:
        raise Refusal("forbidden", action="act for a club")
    return caller.club_id


def is_manager(caller: Caller) -> bool:
    """Runs a merchant's appointments: the club's management key, or a key or panel user bound to
    a merchant (for that merchant)."""
    return caller.kind == "management" or (caller.merchant_id is not None and caller.kind in ("integration", "merchant"))


def is_club_staff(caller: Caller) -> bool:
    return caller.kind in ("management", "admin", "marketer", "support", "read_only")


def cancels_as_staff(caller: Caller) -> bool:
    return is_manager(caller) or caller.kind in ("admin", "support")


def acts_for_members(caller: Caller) -> bool:
    """A member itself, or the club's website booking on a member's behalf."""
    return caller.kind == "member" or (caller.kind == "integration" and caller.merchant_id is None)


def require_manager(caller: Caller, action: str) -> None:
    club_of(caller)
    if not is_manager(caller):
        raise Refusal("forbidden", action=action)


def _seen(caller: Caller, alias: str = "") -> tuple[str, list[Any]]:
    """The SQL condition of the rows ``caller`` may see (its club tree, its merchant)."""
    club = club_of(caller)
    sql = f"({alias}root_club_id = ? OR {alias}club_id = ?)"
    params: list[Any] = [club, club]
    if caller.merchant_id is not None:
        sql += f" AND {alias}merchant_id = ?"
        params.append(caller.merchant_id)
    return sql, params


def merchant_for(services: Services, caller: Caller, merchant_id: Any, *, required: bool = True) -> int | None:
    """The merchant a request acts on: a merchant-bound caller's own (naming another is
    ``forbidden``), else ``merchant_id``, which must be of the caller's club (``unknown_merchant``)."""
    club = club_of(caller)
    wanted = int_of(merchant_id, "merchant_id") if merchant_id not in (None, "") else None
    if caller.merchant_id is not None:
        if wanted is not None and wanted != caller.merchant_id:
            raise Refusal("forbidden", action="act for another merchant")
        return caller.merchant_id
    if wanted is None:
        if required:
            raise Refusal("field_required", path="merchant_id")
        return None
    info = _merchant_info(services, wanted)
    if info is None or club not in (info.club_id, info.root_club_id):
        raise Refusal("unknown_merchant", path="merchant_id")
    return wanted


def _merchant_info(services: Services, merchant_id: int) -> Any:
    try:
        return services.merchant(merchant_id)
    except Exception as exc:  # kimia's unknown_merchant: not this caller's either way
        if getattr(exc, "code", None) == "unknown_merchant":
            return None
        raise


# --- what people send ---------------------------------------------------------------------------


def int_of(value: Any, path: str, *, low: int = 1, high: int = 2**63 - 1) -> int:
    """An integer a caller sent (a JSON number or digits in any script), within bounds."""
    if value is None or value == "":
        raise Refusal("field_required", path=path)
    if isinstance(value, bool):
        raise Refusal("field_invalid", path=path, detail=("a whole number", "عددی صحیح"))
    if isinstance(value, int):
        number = value
    else:
        text = fmt.latin_digits(str(value if value is not None else "").strip())
        if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
            raise Refusal("field_invalid", path=path, detail=("a whole number", "عددی صحیح"))
        number = int(text)
    if not low <= number <= high:
        raise Refusal("field_invalid", path=path, detail=(f"from {low} to {high}", f"از {low} تا {high}"))
    return number


def optional_int(value: Any, path: str, default: int, *, low: int = 1, high: int = 2**63 - 1) -> int:
    if value is None or value == "":
        return default
    return int_of(value, path, low=low, high=high)


def text_of(value: Any, path: str, *, required: bool = True, most: int = MAX_NAME) -> str:
    text = " ".join(str(value if value is not None else "").split())
    if required and not text:
        raise Refusal("field_required", path=path)
    if len(text) > most:
        raise Refusal("field_invalid", path=path, detail=(f"at most {most} characters", f"حداکثر {most} نویسه"))
    return text


def day_of(value: Any, path: str) -> dt.date:
    """A day: ISO ``2025-05-14`` or Jalali ``1404/02/24`` (a year before 1700 is Jalali), any digits."""
    text = fmt.latin_digits(str(value or "").strip())
    if not text:
        raise Refusal("field_required", path=path)
    head = text.replace("/", "-").split("-", 1)[0]
    if head.isdigit() and int(head) < 1700:
        return fmt.parse_jdate(text, path)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Refusal("field_invalid", path=path, detail=("a day is YYYY-MM-DD (or Jalali YYYY/MM/DD)", "روز به شکل ۱۴۰۴/۰۲/۲۵ (یا میلادی YYYY-MM-DD)")) from None


def minute_of(value: Any, path: str) -> int:
    """A time of day ``HH:MM`` as minutes after midnight (24:00 allowed as the end of a day)."""
    text = fmt.latin_digits(str(value or "").strip())
    if not text:
        raise Refusal("field_required", path=path)
    hh, sep, mm = text.partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(hh) > 2 or len(mm) != 2:
        raise Refusal("field_invalid", path=path, detail=("a time is HH:MM", "ساعت به شکل ۰۹:۳۰"))
    minutes = int(hh) * 60 + int(mm)
    if int(mm) > 59 or minutes > 24 * 60:
        raise Refusal("field_invalid", path=path, detail=("a time is HH:MM", "ساعت به شکل ۰۹:۳۰"))
    return minutes


def limit_of(query: Mapping[str, Any]) -> int:
    return optional_int(query.get("limit"), "limit", DEFAULT_LIMIT, high=MAX_LIMIT)


def encode_cursor(*values: int) -> str:
    return base64.urlsafe_b64encode(("a1:" + ":".join(str(v) for v in values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, parts: int) -> tuple[int, ...] | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, *numbers = text.split(":")
        if prefix == "a1" and len(numbers) == parts and all(n.isascii() and n.isdigit() and len(n) <= 19 for n in numbers):
            return tuple(int(n) for n in numbers)
    except (ValueError, UnicodeDecodeError):
        pass
    raise Refusal("invalid_cursor", path="cursor")


# --- time ------------------------------------------------------------------------------------------


def zone(offset_min: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(minutes=offset_min))


def stamp(ts: int, offset_min: int) -> dict[str, str]:
    """A moment as kimia's API answers one: ISO 8601 in the club's zone, and its Jalali form."""
    local = dt.datetime.fromtimestamp(ts, zone(offset_min))
    y, m, d = fmt.jalali(local.date())
    return {"at": local.isoformat(), "at_jalali": f"{y:04d}-{m:02d}-{d:02d} {local.hour:02d}:{local.minute:02d}"}


def stamp_ts(item: Mapping[str, Any], field: str = "starts_at") -> int:
    """The Unix seconds of an answer's stamp (a page formats it in the reader's language)."""
    return int(dt.datetime.fromisoformat(item[field]["at"]).timestamp())


def today(services: Services, offset_min: int) -> dt.date:
    return dt.datetime.fromtimestamp(services.now(), zone(offset_min)).date()


def day_bounds(day: dt.date, offset_min: int) -> tuple[int, int]:
    start = fmt.day_start(day, offset_min)
    return start, start + 86_400


# --- idempotency ----------------------------------------------------------------------------------


def once(db: Db, key: str | None, kind: str, request: Mapping[str, Any], work: Callable[[], dict[str, Any]], now: int) -> dict[str, Any]:
    """``work()``'s answer, done once per idempotency key: a repeat of the same request is answered
    with the stored answer; the key with another request is ``exists_with_different_request``."""
    if key is None:
        return work()
    text = json.dumps(dict(request), sort_keys=True, ensure_ascii=False)
    fresh = db.execute("INSERT INTO appointments_requests (idem_key, kind, request, created_at) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT DO NOTHING", (key, kind, text, now))
    if fresh == 0:
        row = db.one("SELECT kind, request, answer FROM appointments_requests WHERE idem_key = ?", (key,))
        if row is None or row[0] != kind or row[1] != text or row[2] is None:
            raise Refusal("exists_with_different_request", path="Idempotency-Key")
        answer: dict[str, Any] = json.loads(row[2])
        return answer
    answer = work()
    db.execute("UPDATE appointments_requests SET answer = ? WHERE idem_key = ?", (json.dumps(answer, ensure_ascii=False), key))
    return answer


# --- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    cancel_before_hours: int = DEFAULT_CANCEL_BEFORE_HOURS
    reminder_hours: int = DEFAULT_REMINDER_HOURS


def rules_in(db: Db, merchant_id: int) -> Rules:
    row = db.one("SELECT cancel_before_hours, reminder_hours FROM appointments_settings WHERE merchant_id = ?", (merchant_id,))
    return Rules(int(row[0]), int(row[1])) if row else Rules()


def settings_of(services: Services, caller: Caller, merchant_id: Any) -> dict[str, Any]:
    merchant = merchant_for(services, caller, merchant_id)
    assert merchant is not None
    rules = services.read(lambda db: rules_in(db, merchant))
    return {"merchant_id": merchant, "cancel_before_hours": rules.cancel_before_hours, "reminder_hours": rules.reminder_hours}


def set_settings(services: Services, caller: Caller, body: Mapping[str, Any], key: str | None) -> dict[str, Any]:
    require_manager(caller, "change appointment settings")
    merchant = merchant_for(services, caller, body.get("merchant_id"))
    assert merchant is not None
    info = services.merchant(merchant)
    cancel = int_of(body.get("cancel_before_hours", DEFAULT_CANCEL_BEFORE_HOURS), "cancel_before_hours", low=0, high=MAX_HOURS)
    remind = int_of(body.get("reminder_hours", DEFAULT_REMINDER_HOURS), "reminder_hours", low=0, high=MAX_HOURS)
    answer = {"merchant_id": merchant, "cancel_before_hours": cancel, "reminder_hours": remind}

    def work(db: Db) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            now = services.now()
            db.execute("INSERT INTO appointments_settings (merchant_id, club_id, cancel_before_hours, reminder_hours, updated_at,"
                       " updated_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (merchant_id) DO UPDATE SET"
                       " cancel_before_hours = excluded.cancel_before_hours, reminder_hours = excluded.reminder_hours,"
                       " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                       (merchant, info.root_club_id, cancel, remind, now, caller.actor))
            return answer

        return once(db, key, "settings", answer, apply, services.now())

    return services.write(work)


# --- services ---------------------------------------------------------------------------------------


def service_json(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": int(row[0]), "merchant_id": int(row[1]), "name_fa": str(row[2]), "name_en": str(row[3]),
            "duration_min": int(row[4]), "active": bool(row[5])}


def create_service(services: Services, caller: Caller, body: Mapping[str, Any], key: str | None) -> dict[str, Any]:
    require_manager(caller, "add appointment services")
    merchant = merchant_for(services, caller, body.get("merchant_id"))
    assert merchant is not None
    name_fa = text_of(body.get("name_fa"), "name_fa")
    name_en = text_of(body.get("name_en"), "name_en", required=False)
    duration = int_of(body.get("duration_min"), "duration_min", low=5, high=MAX_DURATION_MIN)
    info = services.merchant(merchant)
    request = {"merchant_id": merchant, "name_fa": name_fa, "name_en": name_en, "duration_min": duration}

    def work(db: Db) -> dict[str, Any]:
        def add() -> dict[str, Any]:
            sid = db.insert("appointments_services", {
                "club_id": info.club_id, "root_club_id": info.root_club_id, "merchant_id": merchant, "name_fa": name_fa,
                "name_en": name_en, "duration_min": duration, "active": 1, "created_at": services.now(), "created_by": caller.actor})
            return service_json((sid, merchant, name_fa, name_en, duration, 1))

        return once(db, key, "service", request, add, services.now())

    return services.write(work)


def list_services(services: Services, caller: Caller, query: Mapping[str, Any]) -> dict[str, Any]:
    where, params = _seen(caller)
    if query.get("merchant_id") not in (None, ""):
        where += " AND merchant_id = ?"
        params.append(int_of(query.get("merchant_id"), "merchant_id"))
    if not is_manager(caller) or query.get("active") == "1":
        where += " AND active = 1"
    limit = limit_of(query)
    after = decode_cursor(query.get("cursor"), 1)
    if after:
        where += " AND id > ?"
        params.append(after[0])
    rows = services.read(lambda db: db.all(f"SELECT {_SERVICE} FROM appointments_services WHERE {where} ORDER BY id LIMIT ?",
                                           (*params, limit)))
    items = [service_json(r) for r in rows]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["id"]) if len(items) >= limit else None}


def service_in(db: Db, caller: Caller, service_id: int, path: str = "service_id") -> tuple[Any, ...]:
    where, params = _seen(caller)
    row = db.one(f"SELECT {_SERVICE}, club_id, root_club_id FROM appointments_services WHERE id = ? AND {where}", (service_id, *params))
    if row is None:
        raise Refusal("not_found", path=path, what=("service", "خدمت"))
    return row


def offering_merchants(services: Services, caller: Caller) -> list[int]:
    """The merchants of the caller's club that offer an active service."""
    where, params = _seen(caller)
    rows = services.read(lambda db: db.all(
        f"SELECT DISTINCT merchant_id FROM appointments_services WHERE {where} AND active = 1 ORDER BY merchant_id", params))
    return [int(r[0]) for r in rows]


# --- slots -----------------------------------------------------------------------------------------


def slot_json(row: Sequence[Any], offset_min: int) -> dict[str, Any]:
    capacity, taken = int(row[5]), int(row[6])
    return {"id": int(row[0]), "merchant_id": int(row[1]), "service_id": int(row[2]), "starts_at": stamp(int(row[3]), offset_min),
            "ends_at": stamp(int(row[4]), offset_min), "capacity": capacity, "taken": taken, "free": max(0, capacity - taken),
            "status": str(row[7])}


def slot_starts(day_from: dt.date, day_to: dt.date, weekdays: set[int], start_min: int, end_min: int, every_min: int,
                duration_min: int, offset_min: int) -> list[int]:
    """The start times (Unix s) of the slots a publication makes: every ``every_min`` minutes from
    ``start_min`` while a slot of ``duration_min`` ends by ``end_min``, on the chosen weekdays."""
    found: list[int] = []
    day = day_from
    while day <= day_to:
        if day.weekday() in weekdays:
            base = fmt.day_start(day, offset_min)
            at = start_min
            while at + duration_min <= end_min:
                found.append(base + at * 60)
                if len(found) > MAX_SLOTS_PER_REQUEST:
                    raise Refusal("field_invalid", path="every_min", detail=(f"at most {MAX_SLOTS_PER_REQUEST} slots at once", f"حداکثر {MAX_SLOTS_PER_REQUEST} نوبت در یک بار"))
                at += every_min
        day += dt.timedelta(days=1)
    return found


def weekdays_of(value: Any) -> set[int]:
    if value in (None, "", []):
        return set(range(7))
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list):
        raise Refusal("field_invalid", path="weekdays", detail=("a list of sat, sun, mon, tue, wed, thu, fri", "فهرستی از روزهای هفته: sat تا fri"))
    days: set[int] = set()
    for name in names:
        key = str(name).strip().lower()[:3]
        if key not in WEEKDAYS:
            raise Refusal("field_invalid", path="weekdays", detail=("a list of sat, sun, mon, tue, wed, thu, fri", "فهرستی از روزهای هفته: sat تا fri"))
        days.add(WEEKDAYS[key])
    return days


def publish_slots(services: Services, caller: Caller, body: Mapping[str, Any], key: str | None) -> dict[str, Any]:
    """Publish slots of a service: one (``from`` a day, ``start`` a time) or many (``from``–``to``
    days, on ``weekdays``, from ``start`` to ``end`` every ``every_min`` minutes). A slot already
    published at the same start is kept as it is (``skipped``)."""
    require_manager(caller, "publish appointment slots")
    service_id = int_of(body.get("service_id"), "service_id")
    service = services.read(lambda db: service_in(db, caller, service_id))
    merchant = int(service[1])
    if body.get("merchant_id") not in (None, "") and int_of(body.get("merchant_id"), "merchant_id") != merchant:
        raise Refusal("not_found", path="service_id", what=("service", "خدمت"))
    duration = int(service[4])
    offset = services.utc_offset_min(club_of(caller))
    first = day_of(body.get("from") or body.get("day"), "from")
    last = day_of(body.get("to"), "to") if body.get("to") not in (None, "") else first
    if last < first:
        raise Refusal("field_invalid", path="to", detail=("the last day is before the first", "روز پایان پیش از روز آغاز است"))
    if (last - first).days >= MAX_DAYS_PER_REQUEST:
        raise Refusal("field_invalid", path="to", detail=(f"at most {MAX_DAYS_PER_REQUEST} days at once", f"حداکثر {MAX_DAYS_PER_REQUEST} روز در یک بار"))
    start = minute_of(body.get("start"), "start")
    end = minute_of(body.get("end"), "end") if body.get("end") not in (None, "") else start + duration
    if end > 24 * 60:
        raise Refusal("field_invalid", path="end", detail=("slots end by midnight", "نوبت‌ها تا نیمه‌شب تمام می‌شوند"))
    if end < start + duration:
        raise Refusal("field_invalid", path="end", detail=("too early for one slot of the service", "زودتر از پایان یک نوبت این خدمت است"))
    every = optional_int(body.get("every_min"), "every_min", duration, low=5, high=MAX_DURATION_MIN)
    capacity = optional_int(body.get("capacity"), "capacity", 1, high=MAX_CAPACITY)
    days = weekdays_of(body.get("weekdays"))
    starts = slot_starts(first, last, days, start, end, every, duration, offset)
    now = services.now()
    starts = [s for s in starts if s > now]
    if not starts:
        raise Refusal("field_invalid", path="from", detail=("no future slot in these days and times", "در این روزها و ساعت‌ها زمان آینده‌ای نیست"))
    request = {"service_id": service_id, "starts": starts, "capacity": capacity}

    def work(db: Db) -> dict[str, Any]:
        def add() -> dict[str, Any]:
            created: list[int] = []
            for at in starts:
                row = db.one("INSERT INTO appointments_slots (club_id, root_club_id, merchant_id, service_id, starts_at, ends_at,"
                             " capacity, taken, status, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'open', ?, ?)"
                             " ON CONFLICT DO NOTHING RETURNING id",
                             (int(service[6]), int(service[7]), merchant, service_id, at, at + duration * 60, capacity, now,
                              caller.actor))
                if row is not None:
                    created.append(int(row[0]))
            return {"service_id": service_id, "created": len(created), "skipped": len(starts) - len(created), "slot_ids": created,
                    "first": stamp(starts[0], offset), "last": stamp(starts[-1], offset)}

        return once(db, key, "slots", request, add, now)

    return services.write(work)


def list_slots(services: Services, caller: Caller, query: Mapping[str, Any]) -> dict[str, Any]:
    """Slots of the caller's club by day: ``merchant_id``, ``service_id``, ``from``/``to`` (days,
    default today for a week), ``free=1`` (open, not full, not started). Members see open ones only."""
    offset = services.utc_offset_min(club_of(caller))
    where, params = _seen(caller)
    for name in ("merchant_id", "service_id"):
        if query.get(name) not in (None, ""):
            where += f" AND {name} = ?"
            params.append(int_of(query.get(name), name))
    first = day_of(query.get("from"), "from") if query.get("from") else today(services, offset)
    last = day_of(query.get("to"), "to") if query.get("to") else first + dt.timedelta(days=6)
    if last < first or (last - first).days >= MAX_DAYS_PER_REQUEST:
        raise Refusal("field_invalid", path="to", detail=(f"from 0 to {MAX_DAYS_PER_REQUEST - 1} days after from", f"از ۰ تا {MAX_DAYS_PER_REQUEST - 1} روز پس از روز آغاز"))
    where += " AND starts_at >= ? AND starts_at < ?"
    params += [day_bounds(first, offset)[0], day_bounds(last, offset)[1]]
    if query.get("free") in ("1", "true") or acts_for_members(caller):
        where += " AND status = 'open'"
    if query.get("free") in ("1", "true"):
        where += " AND taken < capacity AND starts_at > ?"
        params.append(services.now())
    limit = limit_of(query)
    after = decode_cursor(query.get("cursor"), 2)
    if after:
        where += " AND (starts_at > ? OR (starts_at = ? AND id > ?))"
        params += [after[0], after[0], after[1]]
    rows = services.read(lambda db: db.all(
        f"SELECT {_SLOT} FROM appointments_slots WHERE {where} ORDER BY starts_at, id LIMIT ?", (*params, limit)))
    items = [slot_json(r, offset) for r in rows]
    cursor = encode_cursor(int(rows[-1][3]), int(rows[-1][0])) if len(rows) >= limit else None
    return {"items": items, "next_cursor": cursor}


def close_slot(services: Services, caller: Caller, slot_id: int, key: str | None, reason: str = "") -> dict[str, Any]:
    """Close a slot to new bookings (its bookings stay); audited."""
    require_manager(caller, "close appointment slots")
    offset = services.utc_offset_min(club_of(caller))
    where, params = _seen(caller)

    def work(db: Db) -> dict[str, Any]:
        def close() -> dict[str, Any]:
            row = db.one(f"SELECT {_SLOT}, root_club_id FROM appointments_slots WHERE id = ? AND {where}", (slot_id, *params))
            if row is None:
                raise Refusal("unknown_slot", path="slot_id")
            if row[7] != "closed":
                db.execute("UPDATE appointments_slots SET status = 'closed' WHERE id = ?", (slot_id,))
                db.audit(club_id=int(row[8]), actor=caller.actor, action="appointments.slot_closed", reason=reason or "slot closed",
                         payload={"slot_id": slot_id, "merchant_id": int(row[1]), "starts_at": int(row[3])})
            return slot_json((*row[:7], "closed"), offset)

        return once(db, key, "close", {"slot_id": slot_id}, close, services.now())

    return services.write(work)


# --- bookings ---------------------------------------------------------------------------------------


def booking_json(row: Sequence[Any], offset_min: int) -> dict[str, Any]:
    def at(ts: Any) -> dict[str, str] | None:
        return None if ts is None else stamp(int(ts), offset_min)

    return {"id": int(row[0]), "merchant_id": int(row[1]), "service_id": int(row[2]), "slot_id": int(row[3]),
            "member_id": int(row[4]), "starts_at": stamp(int(row[5]), offset_min), "ends_at": stamp(int(row[6]), offset_min),
            "status": str(row[7]), "code": str(row[8]), "booked_at": stamp(int(row[9]), offset_min), "booked_by": str(row[10]),
            "confirmed_at": at(row[11]), "checked_in_at": at(row[12]), "closed_at": at(row[13]), "closed_by": row[14],
            "cancel_reason": row[15], "service_name_fa": str(row[17]), "service_name_en": str(row[18])}


def _booking_row(db: Db, booking_id: int) -> tuple[Any, ...] | None:
    return db.one(f"SELECT {_BOOKING} FROM {_BOOKING_FROM} WHERE b.id = ?", (booking_id,))


def member_of(services: Services, caller: Caller, member_key: Any) -> int:
    """The member a booking is for: a member's own; the club's website names one (``M:+98...``)."""
    club = club_of(caller)
    if caller.member_id is not None:
        return caller.member_id
    key = str(member_key or "").strip()
    if not key:
        raise Refusal("field_required", path="member")
    found = services.find_member(club, key)
    if found is None:
        raise Refusal("unknown_member", path="member")
    return found


def event_payload(services: Services, row: Sequence[Any], offset_min: int, member_name: str, merchant: Any) -> dict[str, Any]:
    starts = stamp(int(row[5]), offset_min)
    return {"booking_id": int(row[0]), "code": str(row[8]), "member_id": int(row[4]), "member_name": member_name,
            "merchant_id": int(row[1]), "merchant_name_fa": merchant.name_fa, "merchant_name_en": merchant.name_en,
            "service_name_fa": str(row[17]), "service_name_en": str(row[18]), "starts_at": starts["at"],
            "starts_at_jalali": starts["at_jalali"], "starts_at_unix": int(row[5])}


def book(services: Services, caller: Caller, slot_id_value: Any, member_key: Any, key: str | None) -> dict[str, Any]:
    """Book a seat of a slot for a member: ``slot_taken`` when it is full (the seat is guarded by
    the database), ``slot_unavailable`` when it is closed, started or already the member's."""
    club = club_of(caller)
    if not (acts_for_members(caller) or is_manager(caller)):
        raise Refusal("forbidden", action="book appointments")
    slot_id = int_of(slot_id_value, "slot_id")
    member = member_of(services, caller, member_key)
    where, params = _seen(caller)
    slot = services.read(lambda db: db.one(f"SELECT {_SLOT}, club_id, root_club_id FROM appointments_slots WHERE id = ? AND {where}",
                                           (slot_id, *params)))
    if slot is None:
        raise Refusal("unknown_slot", path="slot_id")
    merchant = services.merchant(int(slot[1]))
    person = services.member(int(slot[9]), member)
    offset = services.utc_offset_min(club)
    now = services.now()

    def already() -> Refusal:
        return Refusal("slot_unavailable", path="slot_id", why=("already booked by this member", "قبلاً رزرو کرده‌اید"))

    def work(db: Db) -> dict[str, Any]:
        def add() -> dict[str, Any]:
            row = db.one("SELECT status, starts_at, capacity FROM appointments_slots WHERE id = ?", (slot_id,))
            assert row is not None
            if row[0] != "open":
                raise Refusal("slot_unavailable", path="slot_id", why=("closed", "بسته شده است"))
            if int(row[1]) <= now:
                raise Refusal("slot_unavailable", path="slot_id", why=("it has started", "زمانش گذشته است"))
            if db.one("SELECT id FROM appointments_bookings WHERE slot_id = ? AND seated_member = ?", (slot_id, member)):
                raise already()
            if db.execute("UPDATE appointments_slots SET taken = taken + 1 WHERE id = ? AND status = 'open' AND taken < capacity",
                          (slot_id,)) != 1:
                raise Refusal("slot_taken", path="slot_id")
            seats = {int(s[0]) for s in db.all("SELECT seat FROM appointments_bookings WHERE slot_id = ? AND seat IS NOT NULL",
                                                (slot_id,))}
            seat = min(set(range(1, int(row[2]) + 1)) - seats)
            booking = None
            for _ in range(20):
                code = f"{secrets.randbelow(10**6):06d}"
                found = db.one(
                    "INSERT INTO appointments_bookings (club_id, root_club_id, merchant_id, service_id, slot_id, member_id, starts_at,"
                    " seat, seated_member, status, code, live_code, idem_key, booked_at, booked_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                    (int(slot[8]), int(slot[9]), int(slot[1]), int(slot[2]), slot_id, member, int(slot[3]), seat, member, code, code,
                     key or f"book:{secrets.token_hex(16)}", now, caller.actor))
                if found is not None:
                    booking = int(found[0])
                    break
                if db.one("SELECT 1 FROM appointments_bookings WHERE slot_id = ? AND seated_member = ?", (slot_id, member)):
                    raise already()  # booked by the member's other request, in another process
                if not db.one("SELECT 1 FROM appointments_bookings WHERE merchant_id = ? AND live_code = ?", (int(slot[1]), code)):
                    raise Refusal("slot_taken", path="slot_id")  # the seat went to another process
            if booking is None:
                raise RuntimeError("no free booking code after 20 tries")
            full = _booking_row(db, booking)
            assert full is not None
            db.emit("appointment.booked", club_id=int(slot[9]), key=f"booking:{booking}:booked", member_id=member,
                    payload=event_payload(services, full, offset, person.name, merchant))
            return booking_json(full, offset)

        return once(db, key, "book", {"slot_id": slot_id, "member_id": member}, add, now)

    return services.write(work)


def _visible_booking(services: Services, caller: Caller, booking_id: int) -> tuple[Any, ...]:
    where, params = _seen(caller, "b.")
    if caller.member_id is not None:
        where += " AND b.member_id = ?"
        params.append(caller.member_id)
    row = services.read(lambda db: db.one(f"SELECT {_BOOKING} FROM {_BOOKING_FROM} WHERE b.id = ? AND {where}",
                                          (booking_id, *params)))
    if row is None:
        raise Refusal("unknown_booking", path="booking_id")
    return row


def get_booking(services: Services, caller: Caller, booking_id: int) -> dict[str, Any]:
    if caller.kind == "integration" and caller.merchant_id is None:
        raise Refusal("forbidden", action="read bookings by id")
    row = _visible_booking(services, caller, booking_id)
    return booking_json(row, services.utc_offset_min(club_of(caller)))


def change(services: Services, caller: Caller, booking_id: int, action: str, reason: str, key: str | None) -> dict[str, Any]:
    """Cancel, confirm, check in or mark a no-show. Members (and the club's website for them)
    cancel only, up to the merchant's limit; staff cancel at any time with a reason (audited);
    managers confirm, check in and mark no-shows."""
    assert action in ACTIONS
    club = club_of(caller)
    staff_cancel = action == "cancel" and cancels_as_staff(caller)
    if action != "cancel" and not is_manager(caller):
        raise Refusal("forbidden", action=f"{action.replace('_', '-')} bookings")
    if action == "cancel" and not (staff_cancel or acts_for_members(caller)):
        raise Refusal("forbidden", action="cancel bookings")
    reason = text_of(reason, "reason", required=False, most=MAX_REASON)
    if staff_cancel and not reason:
        raise Refusal("reason_required", path="reason")
    row = _visible_booking(services, caller, booking_id)
    offset = services.utc_offset_min(club)
    merchant = services.merchant(int(row[1]))
    person = services.member(int(row[16]), int(row[4])) if action == "cancel" else None
    now = services.now()

    def refuse_state(state: str) -> Refusal:
        return Refusal("booking_state", path="booking_id", state=pair(STATE_WORDS[state]), action=pair(ACTION_WORDS[action]))

    def work(db: Db) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            current = db.one("SELECT status, starts_at, slot_id, member_id FROM appointments_bookings WHERE id = ?", (booking_id,))
            assert current is not None
            state, starts = str(current[0]), int(current[1])
            allowed = ("booked",) if action == "confirm" else LIVE
            if state not in allowed:
                raise refuse_state(state)
            if action == "cancel":
                if not staff_cancel:
                    hours = rules_in(db, int(row[1])).cancel_before_hours
                    if now > starts - hours * 3600:
                        raise Refusal("booking_not_cancellable", path="booking_id", hours=hours)
                db.execute("UPDATE appointments_bookings SET status = 'cancelled', seat = NULL, seated_member = NULL, live_code = NULL,"
                           " closed_at = ?,"
                           " closed_by = ?, cancel_reason = ? WHERE id = ?", (now, caller.actor, reason or None, booking_id))
                db.execute("UPDATE appointments_slots SET taken = taken - 1 WHERE id = ? AND taken > 0", (int(current[2]),))
                if staff_cancel:
                    db.audit(club_id=int(row[16]), actor=caller.actor, action="appointments.booking_cancelled", reason=reason,
                             payload={"booking_id": booking_id, "member_id": int(current[3]), "merchant_id": int(row[1]),
                                      "starts_at": starts})
                assert person is not None
                db.emit("appointment.cancelled", club_id=int(row[16]), key=f"booking:{booking_id}:cancelled",
                        member_id=int(current[3]), payload={**event_payload(services, row, offset, person.name, merchant),
                                                            "by_staff": staff_cancel})
            elif action == "confirm":
                db.execute("UPDATE appointments_bookings SET status = 'confirmed', confirmed_at = ?, confirmed_by = ? WHERE id = ?",
                           (now, caller.actor, booking_id))
            elif action == "check_in":
                db.execute("UPDATE appointments_bookings SET status = 'checked_in', live_code = NULL, checked_in_at = ?,"
                           " checked_in_by = ? WHERE id = ?", (now, caller.actor, booking_id))
            else:
                if now < starts:
                    raise refuse_state("upcoming")
                db.execute("UPDATE appointments_bookings SET status = 'no_show', live_code = NULL, closed_at = ?, closed_by = ?"
                           " WHERE id = ?", (now, caller.actor, booking_id))
                db.audit(club_id=int(row[16]), actor=caller.actor, action="appointments.booking_no_show",
                         reason=reason or "no-show", payload={"booking_id": booking_id, "member_id": int(current[3]),
                                                               "merchant_id": int(row[1]), "starts_at": starts})
            done = _booking_row(db, booking_id)
            assert done is not None
            return booking_json(done, offset)

        return once(db, key, f"booking.{action}", {"booking_id": booking_id, "reason": reason}, apply, now)

    return services.write(work)


def list_bookings(services: Services, caller: Caller, query: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], str | None, int]:
    """Bookings the caller may read, by start time: a member's own; a merchant's; the club's
    (``merchant_id``); filters ``day`` (or ``from``/``to``), ``status``, ``member`` (a member key;
    required of the club's website). The rows, the next cursor and the club's offset."""
    club = club_of(caller)
    offset = services.utc_offset_min(club)
    where, params = _seen(caller, "b.")
    if caller.member_id is not None:
        where += " AND b.member_id = ?"
        params.append(caller.member_id)
    elif query.get("member") not in (None, "") or (caller.kind == "integration" and caller.merchant_id is None):
        member = member_of(services, caller, query.get("member"))
        where += " AND b.member_id = ?"
        params.append(member)
    elif not (is_manager(caller) or is_club_staff(caller)):
        raise Refusal("forbidden", action="list bookings")
    if query.get("merchant_id") not in (None, ""):
        where += " AND b.merchant_id = ?"
        params.append(int_of(query.get("merchant_id"), "merchant_id"))
    if query.get("status") not in (None, ""):
        states = [s.strip() for s in str(query.get("status")).split(",")]
        if not all(s in STATES for s in states):
            raise Refusal("field_invalid", path="status", detail=(", ".join(STATES), "، ".join(STATES)))
        where += f" AND b.status IN ({', '.join('?' * len(states))})"
        params += states
    first: dt.date | None = None
    last: dt.date | None = None
    if query.get("day") not in (None, ""):
        first = last = day_of(query.get("day"), "day")
    else:
        first = day_of(query.get("from"), "from") if query.get("from") else None
        last = day_of(query.get("to"), "to") if query.get("to") else None
    if first is not None:
        where += " AND b.starts_at >= ?"
        params.append(day_bounds(first, offset)[0])
    if last is not None:
        where += " AND b.starts_at < ?"
        params.append(day_bounds(last, offset)[1])
    csv = query.get("format") == "csv"  # a file of the whole day or period, not a page
    limit = optional_int(query.get("limit"), "limit", MAX_CSV_ROWS if csv else DEFAULT_LIMIT, high=MAX_CSV_ROWS if csv else MAX_LIMIT)
    after = decode_cursor(query.get("cursor"), 2)
    if after:
        where += " AND (b.starts_at > ? OR (b.starts_at = ? AND b.id > ?))"
        params += [after[0], after[0], after[1]]
    rows = services.read(lambda db: db.all(
        f"SELECT {_BOOKING} FROM {_BOOKING_FROM} WHERE {where} ORDER BY b.starts_at, b.id LIMIT ?", (*params, limit)))
    cursor = encode_cursor(int(rows[-1][5]), int(rows[-1][0])) if len(rows) >= limit else None
    return rows, cursor, offset


# --- the terminal ------------------------------------------------------------------------------------


def booking_by_code(db: Db, merchant_id: int, code: str) -> tuple[Any, ...] | None:
    """The booking a terminal names by its code at its merchant: the live one, else the latest."""
    found = db.one("SELECT id FROM appointments_bookings WHERE merchant_id = ? AND code = ?"
                   " ORDER BY CASE WHEN live_code IS NULL THEN 1 ELSE 0 END, id DESC LIMIT 1", (merchant_id, code))
    return None if found is None else _booking_row(db, int(found[0]))


# --- reminders --------------------------------------------------------------------------------------


def due_reminders(db: Db, now: int, most: int = 500) -> list[tuple[Any, ...]]:
    """Live bookings starting within their merchant's reminder window, not reminded yet."""
    return db.all(
        f"SELECT {_BOOKING} FROM {_BOOKING_FROM} LEFT JOIN appointments_settings t ON t.merchant_id = b.merchant_id"
        " WHERE b.status IN ('booked', 'confirmed') AND b.reminded_at IS NULL AND b.starts_at > ?"
        f" AND b.starts_at <= ? + 3600 * COALESCE(t.reminder_hours, {DEFAULT_REMINDER_HOURS}) ORDER BY b.starts_at, b.id LIMIT ?",
        (now, now, most))


def send_reminders(services: Services, now: int) -> int:
    """Emit ``appointment.reminder`` (key ``booking:<id>:reminder``) for every booking due; safe to
    run twice (the key is stable and the booking is marked reminded). How many were emitted."""
    due = services.read(lambda db: due_reminders(db, now))
    if not due:
        return 0
    payloads: list[tuple[int, int, int, dict[str, Any]]] = []
    for row in due:
        root = int(row[16])
        try:
            person = services.member(root, int(row[4]))
            merchant = services.merchant(int(row[1]))
        except Exception as exc:  # a member or merchant gone since: no reminder to send
            if getattr(exc, "code", None) in ("unknown_member", "unknown_merchant"):
                continue
            raise
        payloads.append((int(row[0]), root, int(row[4]), event_payload(services, row, services.utc_offset_min(root), person.name,
                                                                      merchant)))

    def work(db: Db) -> int:
        sent = 0
        for booking, root, member, payload in payloads:
            if db.execute("UPDATE appointments_bookings SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL"
                          " AND status IN ('booked', 'confirmed')", (now, booking)) == 1:
                db.emit("appointment.reminder", club_id=root, key=f"booking:{booking}:reminder", member_id=member, payload=payload)
                sent += 1
        return sent

    return services.write(work)
