"""The attendance extra's tables and every read and write of them, shared by the terminal
operations, the API routes and the panel pages.

Staff (``attendance_staff``): a person registered at a merchant by a staff code or card. The code
may be a bank card, so it is never stored: only its keyed hash (``Services.secret_hash``) and its
last four characters, for people to tell two codes apart.

Records (``attendance_records``): clock-ins and clock-outs, append only. A correction never edits
a row: it appends a *void* row naming the record it voids (``voids_id``, unique: a record is voided
once) and/or a new record (``kind = 'correction'``, ``corrects_id`` naming the record it replaces),
with an audit row, in one transaction. The *effective* records are those not voided.

A person is *in* when their last effective record is a clock-in less than :data:`MAX_SHIFT_S`
ago: an older one is a forgotten clock-out, which does not stop them clocking in today (the report
shows it as an open record for the merchant to correct).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kimia.plugins.types import Db, MerchantInfo, Migration, PluginSchema, Refusal, Services
from kimia.web.panel import fmt

NAME = "attendance"
#: How long a clock-in keeps a person in: past it, it is a forgotten clock-out.
MAX_SHIFT_S = 16 * 3600
#: A clock-out closes the clock-in before it when it comes within this time.
MAX_PAIR_S = 24 * 3600
MAX_NAME = 60
MAX_REASON = 500
DIRECTIONS = ("in", "out")
_CODE = re.compile(r"[0-9A-Za-z]{2,40}")

# --- schema ---------------------------------------------------------------------------------------


def _create(db: Db) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    db.execute(
        f"CREATE TABLE attendance_staff (id {key}, club_id BIGINT NOT NULL, root_club_id BIGINT NOT NULL,"
        " merchant_id BIGINT NOT NULL, code_hash VARCHAR(64) NOT NULL, code_last4 VARCHAR(4) NOT NULL,"
        " name VARCHAR(200) NOT NULL, active SMALLINT NOT NULL DEFAULT 1, created_at BIGINT NOT NULL,"
        " created_by VARCHAR(200) NOT NULL, idem_key VARCHAR(300) NOT NULL UNIQUE,"
        " CONSTRAINT attendance_staff_code UNIQUE (merchant_id, code_hash))"
    )
    db.execute("CREATE INDEX attendance_staff_club ON attendance_staff (root_club_id, merchant_id, id)")
    db.execute(
        f"CREATE TABLE attendance_records (id {key}, club_id BIGINT NOT NULL, root_club_id BIGINT NOT NULL,"
        " merchant_id BIGINT NOT NULL, staff_id BIGINT NOT NULL REFERENCES attendance_staff (id),"
        " kind VARCHAR(12) NOT NULL, direction VARCHAR(3) NOT NULL, clocked_at BIGINT NOT NULL,"
        " source VARCHAR(12) NOT NULL, terminal_id BIGINT, idem_key VARCHAR(300) NOT NULL UNIQUE,"
        " actor VARCHAR(200) NOT NULL, corrects_id BIGINT REFERENCES attendance_records (id),"
        " voids_id BIGINT UNIQUE REFERENCES attendance_records (id), reason VARCHAR(1000), created_at BIGINT NOT NULL,"
        " CONSTRAINT attendance_records_kind CHECK (kind IN ('clock', 'correction', 'void')),"
        " CONSTRAINT attendance_records_direction CHECK (direction IN ('in', 'out')))"
    )
    db.execute("CREATE INDEX attendance_records_merchant ON attendance_records (merchant_id, clocked_at, id)")
    db.execute("CREATE INDEX attendance_records_staff ON attendance_records (staff_id, clocked_at, id)")
    db.execute("CREATE INDEX attendance_records_club ON attendance_records (root_club_id, clocked_at, id)")


SCHEMA = PluginSchema(NAME, (Migration("0001", _create),))

# --- plain values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    id: int
    club_id: int
    merchant_id: int
    code_last4: str
    name: str
    active: bool
    created_at: int
    created_by: str


@dataclass(frozen=True)
class Record:
    id: int
    merchant_id: int
    staff_id: int
    staff_name: str
    kind: str
    direction: str
    at: int
    source: str
    terminal_id: int | None
    actor: str
    corrects_id: int | None
    reason: str | None
    created_at: int
    #: The void row that voided this record (its id, actor, reason, when), or None.
    voided_by: int | None = None
    voided_actor: str | None = None
    voided_reason: str | None = None
    voided_at: int | None = None

    @property
    def voided(self) -> bool:
        return self.voided_by is not None


@dataclass
class PersonReport:
    merchant_id: int
    staff_id: int
    name: str
    code_last4: str
    days: set[str] = field(default_factory=set)
    minutes: int = 0
    open_records: int = 0

    @property
    def days_present(self) -> int:
        return len(self.days)


_STAFF = "id, club_id, merchant_id, code_last4, name, active, created_at, created_by"
_RECORD = ("r.id, r.merchant_id, r.staff_id, s.name, r.kind, r.direction, r.clocked_at, r.source, r.terminal_id, r.actor,"
           " r.corrects_id, r.reason, r.created_at, v.id, v.actor, v.reason, v.created_at")
_RECORDS_FROM = ("attendance_records r JOIN attendance_staff s ON s.id = r.staff_id"
                 " LEFT JOIN attendance_records v ON v.voids_id = r.id")


def _staff(row: tuple[Any, ...]) -> Staff:
    return Staff(int(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]), bool(row[5]), int(row[6]), str(row[7]))


def _record(row: tuple[Any, ...]) -> Record:
    return Record(int(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]), str(row[5]), int(row[6]), str(row[7]),
                  None if row[8] is None else int(row[8]), str(row[9]), None if row[10] is None else int(row[10]),
                  None if row[11] is None else str(row[11]), int(row[12]), None if row[13] is None else int(row[13]),
                  None if row[14] is None else str(row[14]), None if row[15] is None else str(row[15]),
                  None if row[16] is None else int(row[16]))


# --- what people send ------------------------------------------------------------------------------


def clean_code(value: object, path: str, *, wire: bool = False) -> str:
    """A staff code or card number: 2 to 40 letters and digits (Persian digits read as digits).
    From a terminal (``wire``) a malformed one is a format error (30), elsewhere ``field_invalid``."""
    text = fmt.latin_digits(str(value or "")).strip().replace(" ", "").replace("-", "")
    if not text:
        raise Refusal("invalid_request", path=path, detail="a staff code is required") if wire else Refusal("field_required", path=path)
    if not _CODE.fullmatch(text):
        if wire:
            raise Refusal("invalid_request", path=path, detail="a staff code is 2 to 40 ASCII letters and digits")
        raise Refusal("field_invalid", path=path, detail=("2 to 40 letters and digits", "۲ تا ۴۰ حرف لاتین و رقم"))
    return text.upper()


def clean_name(value: object, path: str, *, wire: bool = False) -> str:
    text = fmt.normalize(str(value or ""))
    if not text:
        raise Refusal("invalid_request", path=path, detail="a staff name is required") if wire else Refusal("field_required", path=path)
    if len(text) > MAX_NAME:
        if wire:
            raise Refusal("invalid_request", path=path, detail=f"a staff name is at most {MAX_NAME} characters")
        raise Refusal("field_invalid", path=path, detail=(f"at most {MAX_NAME} characters", f"حداکثر {MAX_NAME} نویسه"))
    return text


def clean_reason(value: object, path: str = "reason") -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise Refusal("reason_required", path=path)
    if len(text) > MAX_REASON:
        raise Refusal("field_invalid", path=path, detail=(f"at most {MAX_REASON} characters", f"حداکثر {MAX_REASON} نویسه"))
    return text


def clean_direction(value: object, path: str = "direction") -> str:
    text = str(value or "").strip().lower()
    text = {"i": "in", "o": "out"}.get(text, text)
    if not text:
        raise Refusal("field_required", path=path)
    if text not in DIRECTIONS:
        raise Refusal("field_invalid", path=path, detail=("in or out", "ورود (in) یا خروج (out)"))
    return text


def masked(code: str) -> str:
    """How a code is shown: its last four characters only."""
    return "…" + code[-4:]


def masked_words(code: str) -> tuple[str, str]:
    """A code as a message names it: its last four characters, in Persian digits in Persian."""
    return masked(code), fmt.digits(masked(code), "fa")


def code_hash(services: Services, code: str) -> str:
    return services.secret_hash("attendance-staff", code)


# --- time -------------------------------------------------------------------------------------------


def local_day(ts: int, offset_min: int) -> str:
    return fmt.local_time(ts, offset_min).date().isoformat()


def day_bounds(first: dt.date, last: dt.date, offset_min: int) -> tuple[int, int]:
    """Unix seconds from the first local day's midnight to the midnight after the last."""
    return fmt.day_start(first, offset_min), fmt.day_start(last + dt.timedelta(days=1), offset_min)


def today(services: Services, offset_min: int) -> dt.date:
    return fmt.local_time(services.now(), offset_min).date()


def jalali_text(day: dt.date, lang: str = "en") -> str:
    y, m, d = fmt.jalali(day)
    return fmt.digits(f"{y:04d}/{m:02d}/{d:02d}", lang)


def stamp(ts: int, offset_min: int) -> dict[str, str]:
    """A moment as kimia's API answers it: ISO 8601 in the club's zone and its Jalali date-time."""
    local = fmt.local_time(ts, offset_min)
    y, m, d = fmt.jalali(local.date())
    return {"at": local.isoformat(), "at_jalali": f"{y:04d}-{m:02d}-{d:02d} {local.hour:02d}:{local.minute:02d}"}


# --- scoping ---------------------------------------------------------------------------------------


def in_club(merchant: MerchantInfo, club_id: int | None) -> bool:
    """Whether a merchant is of the club's tree (its own club, or the root of its club)."""
    return club_id is not None and club_id in (merchant.club_id, merchant.root_club_id)


def find_merchant(services: Services, merchant_id: int, club_id: int | None, path: str = "merchant_id") -> MerchantInfo:
    """A merchant of the caller's club tree, else ``unknown_merchant`` (never another club's)."""
    try:
        merchant = services.merchant(merchant_id)
    except Exception as exc:
        if getattr(exc, "code", None) == "unknown_merchant":
            raise Refusal("unknown_merchant", path=path) from None
        raise
    if not in_club(merchant, club_id):
        raise Refusal("unknown_merchant", path=path)
    return merchant


# --- staff ------------------------------------------------------------------------------------------


def register(services: Services, merchant: MerchantInfo, *, code: str, name: str, idem_key: str, actor: str) -> Staff:
    """Register a person at the merchant; a repeat of ``idem_key`` answers the person it registered.
    ``staff_code_taken`` when the code is there already (active or not)."""
    hashed = code_hash(services, code)
    now = services.now()

    def work(db: Db) -> Staff:
        found = _staff_by_key(db, idem_key, hashed, merchant.id)
        if found is not None:
            return found
        if db.one("SELECT id FROM attendance_staff WHERE merchant_id = ? AND code_hash = ?", (merchant.id, hashed)):
            raise Refusal("staff_code_taken", path="code", staff=masked_words(code))
        added = db.execute(
            "INSERT INTO attendance_staff (club_id, root_club_id, merchant_id, code_hash, code_last4, name, active, created_at,"
            " created_by, idem_key) VALUES (?,?,?,?,?,?,1,?,?,?) ON CONFLICT DO NOTHING",
            (merchant.club_id, merchant.root_club_id, merchant.id, hashed, code[-4:], name, now, actor, idem_key),
        )
        found = _staff_by_key(db, idem_key, hashed, merchant.id)
        if not added and found is None:  # another process registered the code a moment ago
            raise Refusal("staff_code_taken", path="code", staff=masked_words(code))
        assert found is not None
        if added:
            db.audit(club_id=merchant.club_id, actor=actor, action="attendance.staff_register", reason="register staff",
                     payload={"staff_id": found.id, "merchant_id": merchant.id, "name": name, "code_last4": code[-4:]})
        return found

    return services.write(work)


def _staff_by_key(db: Db, idem_key: str, hashed: str, merchant_id: int) -> Staff | None:
    row = db.one(f"SELECT {_STAFF}, code_hash FROM attendance_staff WHERE idem_key = ?", (idem_key,))
    if row is None:
        return None
    if row[8] != hashed or int(row[2]) != merchant_id:
        raise Refusal("exists_with_different_request", path="code")
    return _staff(row)


def merchants_with_staff(db: Db, root_club_id: int) -> list[int]:
    """The merchants of a club tree where anyone is registered (the report's merchant picker)."""
    return [int(r[0]) for r in db.all("SELECT DISTINCT merchant_id FROM attendance_staff WHERE root_club_id = ? OR club_id = ?"
                                      " ORDER BY merchant_id", (root_club_id, root_club_id))]


def staff_by_id(db: Db, staff_id: int) -> Staff | None:
    row = db.one(f"SELECT {_STAFF} FROM attendance_staff WHERE id = ?", (staff_id,))
    return None if row is None else _staff(row)


def staff_by_code(db: Db, merchant_id: int, hashed: str) -> Staff | None:
    row = db.one(f"SELECT {_STAFF} FROM attendance_staff WHERE merchant_id = ? AND code_hash = ?", (merchant_id, hashed))
    return None if row is None else _staff(row)


def list_staff(db: Db, *, merchant_ids: Iterable[int] | None = None, root_club_id: int | None = None, after_id: int = 0,
               limit: int = 200, active_only: bool = False) -> list[Staff]:
    where, params = _scope_sql("", merchant_ids, root_club_id)
    if active_only:
        where += " AND active = 1"
    return [_staff(r) for r in db.all(f"SELECT {_STAFF} FROM attendance_staff WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                                      (*params, after_id, limit))]


def set_active(services: Services, staff: Staff, *, active: bool, actor: str, reason: str) -> Staff:
    """Disable (or enable again) a person: a disabled person cannot clock in or out."""

    def work(db: Db) -> Staff:
        current = staff_by_id(db, staff.id)
        assert current is not None
        if current.active != active:
            db.execute("UPDATE attendance_staff SET active = ? WHERE id = ?", (1 if active else 0, staff.id))
            db.audit(club_id=staff.club_id, actor=actor, action="attendance.staff_enable" if active else "attendance.staff_disable",
                     reason=reason, payload={"staff_id": staff.id, "merchant_id": staff.merchant_id, "name": staff.name})
        found = staff_by_id(db, staff.id)
        assert found is not None
        return found

    return services.write(work)


def _scope_sql(alias: str, merchant_ids: Iterable[int] | None, root_club_id: int | None) -> tuple[str, list[Any]]:
    """A WHERE clause scoping rows to merchants (their ids) or to a club tree."""
    if merchant_ids is not None:
        ids = [int(m) for m in merchant_ids]
        if not ids:
            return "1 = 0", []
        return f"{alias}merchant_id IN ({', '.join('?' * len(ids))})", ids
    if root_club_id is None:
        raise ValueError("a scope names merchants or a club")
    return f"({alias}root_club_id = ? OR {alias}club_id = ?)", [root_club_id, root_club_id]


# --- records ---------------------------------------------------------------------------------------


def record_by_id(db: Db, record_id: int) -> Record | None:
    row = db.one(f"SELECT {_RECORD} FROM {_RECORDS_FROM} WHERE r.id = ? AND r.kind <> 'void'", (record_id,))
    return None if row is None else _record(row)


def _record_by_key(db: Db, idem_key: str) -> Record | None:
    row = db.one(f"SELECT {_RECORD} FROM {_RECORDS_FROM} WHERE r.idem_key = ?", (idem_key,))
    return None if row is None else _record(row)


def last_effective(db: Db, staff_id: int) -> Record | None:
    row = db.one(f"SELECT {_RECORD} FROM {_RECORDS_FROM} WHERE r.staff_id = ? AND r.kind <> 'void' AND v.id IS NULL"
                 " ORDER BY r.clocked_at DESC, r.id DESC LIMIT 1", (staff_id,))
    return None if row is None else _record(row)


def is_in(last: Record | None, now: int) -> bool:
    return last is not None and last.direction == "in" and 0 <= now - last.at < MAX_SHIFT_S


def clock(services: Services, merchant: MerchantInfo, *, code: str, direction: str, source: str, idem_key: str, actor: str,
          terminal_id: int | None = None, path: str = "code") -> Record:
    """Clock a person in or out now. A repeat of ``idem_key`` answers the record it wrote (the same
    key for another person or direction: ``exists_with_different_request``)."""
    hashed = code_hash(services, code)
    offset = services.utc_offset_min(merchant.club_id)

    def work(db: Db) -> Record:
        staff = staff_by_code(db, merchant.id, hashed)
        stored = _record_by_key(db, idem_key)
        if stored is not None:
            if staff is None or stored.staff_id != staff.id or stored.direction != direction:
                raise Refusal("exists_with_different_request", path=path)
            return stored
        if staff is None or not staff.active:
            raise Refusal("unknown_staff", path=path, staff=masked_words(code))
        now = services.now()
        last = last_effective(db, staff.id)
        inside = is_in(last, now)
        if direction == "in" and inside:
            assert last is not None
            since = (fmt.jdatetime(last.at, offset, "en"), fmt.jdatetime(last.at, offset, "fa"))
            raise Refusal("already_clocked_in", path=path, name=staff.name, since=since)
        if direction == "out" and not inside:
            raise Refusal("not_clocked_in", path=path, name=staff.name)
        record = _append(db, staff, kind="clock", direction=direction, at=now, source=source, terminal_id=terminal_id,
                         idem_key=idem_key, actor=actor, now=now)
        db.emit("attendance.clocked", club_id=staff.club_id, key=str(record.id),
                payload={"record_id": record.id, "merchant_id": staff.merchant_id, "staff_id": staff.id, "name": staff.name,
                         "direction": direction, "at": now, "source": source})
        return record

    return services.write(work)


def _append(db: Db, staff: Staff, *, kind: str, direction: str, at: int, source: str, idem_key: str, actor: str, now: int,
            terminal_id: int | None = None, corrects_id: int | None = None, voids_id: int | None = None,
            reason: str | None = None) -> Record:
    db.execute(
        "INSERT INTO attendance_records (club_id, root_club_id, merchant_id, staff_id, kind, direction, clocked_at, source,"
        " terminal_id, idem_key, actor, corrects_id, voids_id, reason, created_at)"
        " SELECT s.club_id, s.root_club_id, s.merchant_id, s.id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM attendance_staff s"
        " WHERE s.id = ? ON CONFLICT DO NOTHING",
        (kind, direction, at, source, terminal_id, idem_key, actor, corrects_id, voids_id, reason, now, staff.id),
    )
    found = _record_by_key(db, idem_key)
    if found is None:  # the record to void was voided by another request a moment ago
        raise Refusal("not_found", path="record_id", what=("attendance record", "رکورد حضور"))
    return found


@dataclass(frozen=True)
class Correction:
    voided: Record | None
    added: Record | None


def correct(services: Services, merchant: MerchantInfo, *, record_id: int | None, staff_id: int | None, direction: str | None,
            at: int | None, reason: str, idem_key: str, actor: str, source: str) -> Correction:
    """Void a record and/or add one (replacing the voided one when both are given), with an audit
    row. A repeat of ``idem_key`` answers what it did. ``record_id`` and ``staff_id`` must be the
    merchant's (``not_found`` otherwise)."""
    if record_id is None and at is None:
        raise Refusal("field_required", path="record_id")
    now = services.now()

    def work(db: Db) -> Correction:
        void_of = db.one("SELECT voids_id FROM attendance_records WHERE idem_key = ?", (idem_key + ":void",))
        added = _record_by_key(db, idem_key + ":add")
        if void_of is not None or added is not None:  # a repeat: what the first did
            return Correction(record_by_id(db, int(void_of[0])) if void_of else None, added)
        target = None
        if record_id is not None:
            target = record_by_id(db, record_id)
            if target is None or target.merchant_id != merchant.id:
                raise Refusal("not_found", path="record_id", what=("attendance record", "رکورد حضور"))
            if target.voided:
                raise Refusal("invalid_request", path="record_id", detail="this record was voided already")
        staff = None
        if at is not None:
            wanted = staff_id if staff_id is not None else (target.staff_id if target else None)
            if wanted is None:
                raise Refusal("field_required", path="staff_id")
            staff = staff_by_id(db, wanted)
            if staff is None or staff.merchant_id != merchant.id:
                raise Refusal("not_found", path="staff_id", what=("staff member", "کارمند"))
            if target is not None and staff.id != target.staff_id:
                raise Refusal("invalid_request", path="staff_id", detail="a replacement is for the same person")
            if at > now:
                raise Refusal("field_invalid", path="at", detail=("a time not in the future", "زمانی که هنوز نرسیده نیست"))
        void_row = None
        if target is not None:
            owner = staff_by_id(db, target.staff_id)
            assert owner is not None
            void_row = _append(db, owner, kind="void", direction=target.direction, at=target.at, source=source,
                               idem_key=idem_key + ":void", actor=actor, now=now, voids_id=target.id, reason=reason)
        new = None
        if staff is not None and at is not None:
            new = _append(db, staff, kind="correction", direction=direction or (target.direction if target else "in"), at=at,
                          source=source, idem_key=idem_key + ":add", actor=actor, now=now,
                          corrects_id=target.id if target else None, reason=reason)
        db.audit(club_id=merchant.club_id, actor=actor, action="attendance.correct", reason=reason,
                 payload={"merchant_id": merchant.id, "voided": target.id if target else None, "added": new.id if new else None,
                          "direction": new.direction if new else None, "at": at})
        return Correction(record_by_id(db, target.id) if target else None, new)

    return services.write(work)


def records(db: Db, *, merchant_ids: Iterable[int] | None = None, root_club_id: int | None = None, start: int, end: int,
            staff_id: int | None = None, after_id: int = 0, limit: int = 200) -> list[Record]:
    """Records (voided ones too, with their void) in ``[start, end)``, by id."""
    where, params = _scope_sql("r.", merchant_ids, root_club_id)
    if staff_id is not None:
        where += " AND r.staff_id = ?"
        params.append(staff_id)
    rows = db.all(f"SELECT {_RECORD} FROM {_RECORDS_FROM} WHERE {where} AND r.kind <> 'void' AND r.clocked_at >= ?"
                  " AND r.clocked_at < ? AND r.id > ? ORDER BY r.id LIMIT ?", (*params, start, end, after_id, limit))
    return [_record(r) for r in rows]


def present(db: Db, merchant_id: int, now: int) -> list[Record]:
    """Who is in now: each active person whose last effective record is a recent clock-in."""
    rows = db.all(
        f"SELECT {_RECORD} FROM {_RECORDS_FROM} WHERE r.merchant_id = ? AND r.kind <> 'void' AND v.id IS NULL"
        " AND s.active = 1 AND r.clocked_at > ? AND r.clocked_at <= ? ORDER BY r.staff_id, r.clocked_at, r.id",
        (merchant_id, now - MAX_SHIFT_S, now),
    )
    last: dict[int, Record] = {}
    for row in rows:
        rec = _record(row)
        last[rec.staff_id] = rec
    return sorted((r for r in last.values() if r.direction == "in"), key=lambda r: r.at)


def report(db: Db, *, merchant_ids: Iterable[int] | None = None, root_club_id: int | None = None, first: dt.date, last: dt.date,
           offset_min: int) -> list[PersonReport]:
    """Per person of the merchants (or of the club tree): local days with a clock-in in the
    period, minutes between each clock-in and the clock-out that closes it (counted on the day of
    the clock-in), and open records (a clock-in never closed, a clock-out closing nothing)."""
    start, end = day_bounds(first, last, offset_min)
    merchant_list = list(merchant_ids) if merchant_ids is not None else None
    where, params = _scope_sql("", merchant_list, root_club_id)
    people: dict[int, PersonReport] = {}
    for s in db.all(f"SELECT id, merchant_id, name, code_last4, active FROM attendance_staff WHERE {where} ORDER BY merchant_id, id",
                    params):
        people[int(s[0])] = PersonReport(int(s[1]), int(s[0]), str(s[2]), str(s[3]))
    where_r, params_r = _scope_sql("r.", merchant_list, root_club_id)
    rows = db.all(f"SELECT {_RECORD} FROM {_RECORDS_FROM} WHERE {where_r} AND r.kind <> 'void' AND v.id IS NULL"
                  " AND r.clocked_at >= ? AND r.clocked_at < ? ORDER BY r.staff_id, r.clocked_at, r.id",
                  (*params_r, start - MAX_PAIR_S, end + MAX_PAIR_S))
    by_staff: dict[int, list[Record]] = {}
    for row in rows:
        rec = _record(row)
        by_staff.setdefault(rec.staff_id, []).append(rec)
    for staff_id, recs in by_staff.items():
        person = people.get(staff_id)
        if person is None:
            continue

        def inside(r: Record) -> bool:
            return start <= r.at < end

        open_in: Record | None = None
        unpaired: list[Record] = []
        for rec in recs:
            if rec.direction == "in":
                if inside(rec):
                    person.days.add(local_day(rec.at, offset_min))
                if open_in is not None:
                    unpaired.append(open_in)
                open_in = rec
            elif open_in is not None and rec.at - open_in.at <= MAX_PAIR_S:
                if inside(open_in):
                    person.minutes += (rec.at - open_in.at) // 60
                open_in = None
            else:
                unpaired.append(rec)
        if open_in is not None:
            unpaired.append(open_in)
        person.open_records = sum(1 for r in unpaired if inside(r))
    return list(people.values())


def report_csv(rows: list[PersonReport], names: Mapping[int, str], first: dt.date, last: dt.date) -> str:
    """The report as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the Persian)."""
    out = ["\ufeffmerchant_id,merchant,staff_id,name,code_last4,from,to,from_jalali,to_jalali,days_present,minutes,hours,open_records"]
    for p in rows:
        out.append(",".join([str(p.merchant_id), _csv(names.get(p.merchant_id, "")), str(p.staff_id), _csv(p.name),
                             _csv(p.code_last4), first.isoformat(), last.isoformat(), jalali_text(first), jalali_text(last),
                             str(p.days_present), str(p.minutes), f"{p.minutes / 60:.2f}", str(p.open_records)]))
    return "\r\n".join(out) + "\r\n"


def _csv(text: str) -> str:
    if text[:1] in ("=", "+", "-", "@"):
        text = "'" + text  # a spreadsheet must not run it as a formula
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def parse_day(value: str, path: str) -> dt.date:
    """A day as the API and the panel take it: ISO ``2026-12-07`` or Jalali ``1405/09/16``."""
    text = fmt.latin_digits(value.strip())
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise Refusal("field_invalid", path=path, detail=("a date YYYY-MM-DD", "تاریخ به شکل YYYY-MM-DD")) from None
    return fmt.parse_jdate(text, path)


def parse_clock(value: str, path: str) -> tuple[int, int]:
    """A time of day a person typed: 8:05, ۰۸:۰۵."""
    text = fmt.latin_digits(value.strip())
    found = re.fullmatch(r"(\d{1,2})[:.](\d{2})", text)
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise Refusal("field_invalid", path=path, detail=("a time HH:MM", "ساعت به شکل ۰۸:۰۵"))
    return int(found.group(1)), int(found.group(2))


def at_of(day: dt.date, hour: int, minute: int, offset_min: int) -> int:
    return fmt.day_start(day, offset_min) + hour * 3600 + minute * 60
