"""The cash book: a merchant's expenses and cash receipts, their categories, and the daily income
report. Every channel (the terminal, the API, the panel) calls these functions; they reach kimia
only through ``Services`` and ``Db`` (kimia.plugins.types).

Rules kept here, whoever calls:

- an amount is a positive integer of rials, at most :data:`MAX_AMOUNT_RIAL`;
- an expense names its category; a cash receipt may;
- an entry belongs to a local day of its club (today by default; up to :data:`MAX_DAYS_BACK`
  days back, never ahead);
- every write is keyed (``idem_key``): a repeat is answered from the stored row, the same key with
  another request is ``exists_with_different_request``;
- a wrong entry is voided with a reason (an audit row in the same transaction), never edited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kimia.extras.cash.schema import DEFAULTS
from kimia.plugins.types import Caller, Db, MerchantInfo, Refusal, Services
from kimia.web.panel import fmt

KINDS = ("expense", "receipt")
#: The largest amount one entry may carry: 100 billion rials.
MAX_AMOUNT_RIAL = 100_000_000_000
#: How far back an entry's day may be (a forgotten expense of last month can still be recorded).
MAX_DAYS_BACK = 62
#: The longest period an income report covers.
MAX_PERIOD_DAYS = 366
MAX_NOTE = 200
MAX_REASON = 500
MAX_NAME = 80
CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")
EPOCH = dt.date(1970, 1, 1)
DAY_S = 86_400

_CATEGORY_COLUMNS = "id, club_id, merchant_id, kind, code, name_fa, name_en, active"
_ENTRY_COLUMNS = ("e.id, e.club_id, e.merchant_id, e.kind, e.category_id, e.amount_rial, e.note, e.at, e.day, e.source,"
                  " e.terminal_id, e.actor, e.voided_at, e.voided_by, e.void_reason, e.fingerprint, e.answer,"
                  " c.code, c.name_fa, c.name_en")


# --- who may act for which merchant -----------------------------------------------------------------


def merchant_for(services: Services, caller: Caller, merchant_id: int | None, path: str = "merchant_id") -> MerchantInfo:
    """The merchant a request acts for: a merchant-bound caller's own; otherwise ``merchant_id``,
    which must be of the caller's club (or a sub-club of it). Another club's or merchant's is
    ``unknown_merchant`` (404), as if it did not exist."""
    if caller.club_id is None:
        raise Refusal("forbidden", action=("act for a merchant", "اقدام از طرف پذیرنده"))
    if caller.merchant_id is not None:
        if merchant_id is not None and merchant_id != caller.merchant_id:
            raise Refusal("unknown_merchant", path=path)
        merchant_id = caller.merchant_id
    if merchant_id is None:
        raise Refusal("field_required", path=path)
    try:
        found = services.merchant(merchant_id)
    except Exception as exc:
        if getattr(exc, "code", None) == "unknown_merchant":
            raise Refusal("unknown_merchant", path=path) from None
        raise
    if caller.club_id not in (found.club_id, found.root_club_id):
        raise Refusal("unknown_merchant", path=path)
    return found


# --- days ---------------------------------------------------------------------------------------------


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def day_date(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=number)


def local_day(at: int, utc_offset_min: int) -> int:
    """The club-local day number of a moment (the ``day`` column)."""
    return (at + utc_offset_min * 60) // DAY_S


def jalali_text(day: dt.date, lang: str = "en") -> str:
    """1405/09/16 (Persian digits when ``lang`` is ``fa``)."""
    y, m, d = fmt.jalali(day)
    return fmt.digits(f"{y:04d}/{m:02d}/{d:02d}", lang)


def parse_day(text: str, path: str) -> dt.date:
    """A day as a caller writes it: ISO ``2026-12-07`` or Jalali ``1405/09/16`` (``1405-09-16``,
    Persian digits too): a year before 1700 is Jalali."""
    cleaned = fmt.latin_digits(text.strip())
    head = re.split(r"[-/.]", cleaned, maxsplit=1)[0]
    if head.isdigit() and int(head) < 1700:
        return fmt.parse_jdate(cleaned, path)
    try:
        return dt.date.fromisoformat(cleaned)
    except ValueError:
        raise Refusal("field_invalid", path=path, detail=("a day is YYYY-MM-DD or a Jalali 1405/09/16", "روز به شکل 2026-12-07 یا شمسی 1405/09/16")) from None


def month_start(today: dt.date) -> dt.date:
    """The first day of ``today``'s Jalali month."""
    y, m, _ = fmt.jalali(today)
    return fmt.parse_jdate(f"{y}/{m}/1")


def stamp(at: int, utc_offset_min: int) -> dict[str, str]:
    """A moment as kimia's API answers it: ISO 8601 in the club's zone and its Jalali date-time."""
    local = fmt.local_time(at, utc_offset_min)
    y, m, d = fmt.jalali(local.date())
    return {"at": local.isoformat(), "at_jalali": f"{y:04d}-{m:02d}-{d:02d} {local.hour:02d}:{local.minute:02d}"}


# --- categories ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    id: int
    club_id: int
    merchant_id: int | None
    kind: str
    code: str
    name_fa: str
    name_en: str
    active: bool

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_fa

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "code": self.code, "name_fa": self.name_fa, "name_en": self.name_en,
                "active": self.active, "shared": self.merchant_id is None, "merchant_id": self.merchant_id}


def _category(row: Iterable[Any]) -> Category:
    i, club, merchant, kind, code, fa, en, active = row
    return Category(int(i), int(club), None if merchant is None else int(merchant), str(kind), str(code), str(fa), str(en),
                    bool(active))


def seed_defaults(db: Db, club_id: int, now: int) -> None:
    """The club's shared default categories, once (a club that has any shared category keeps
    what it has)."""
    if db.one("SELECT 1 FROM cash_categories WHERE club_id = ? AND merchant_id IS NULL", (club_id,)) is not None:
        return
    for kind, code, fa, en in DEFAULTS:
        db.execute("INSERT INTO cash_categories (club_id, merchant_id, kind, code, name_fa, name_en, active, created_at)"
                   " VALUES (?, NULL, ?, ?, ?, ?, 1, ?) ON CONFLICT DO NOTHING", (club_id, kind, code, fa, en, now))


def ensure_defaults(services: Services, club_id: int) -> None:
    """Add the club's defaults on first use (a read first: a write only the first time)."""
    found = services.read(lambda db: db.one("SELECT 1 FROM cash_categories WHERE club_id = ? AND merchant_id IS NULL", (club_id,)))
    if found is None:
        services.write(lambda db: seed_defaults(db, club_id, services.now()))


def club_categories(db: Db, club_id: int) -> list[Category]:
    """The club's shared categories, inactive ones included."""
    rows = db.all(f"SELECT {_CATEGORY_COLUMNS} FROM cash_categories WHERE club_id = ? AND merchant_id IS NULL"
                  " ORDER BY kind, id", (club_id,))
    return [_category(r) for r in rows]


def own_categories(db: Db, merchant_id: int) -> list[Category]:
    """A merchant's own categories, inactive ones included."""
    rows = db.all(f"SELECT {_CATEGORY_COLUMNS} FROM cash_categories WHERE merchant_id = ? ORDER BY kind, id", (merchant_id,))
    return [_category(r) for r in rows]


def merchant_categories(db: Db, m: MerchantInfo, kind: str | None = None) -> list[Category]:
    """The active categories a merchant records with: its own, then its club's, then its root
    club's; a code it has twice is the first of those."""
    rows = db.all(
        f"SELECT {_CATEGORY_COLUMNS} FROM cash_categories WHERE active = 1"
        " AND (merchant_id = ? OR merchant_id IS NULL AND club_id IN (?, ?))",
        (m.id, m.club_id, m.root_club_id),
    )
    found = [_category(r) for r in rows]

    def rank(c: Category) -> int:
        return 0 if c.merchant_id is not None else 1 if c.club_id == m.club_id else 2

    chosen: dict[tuple[str, str], Category] = {}
    for c in sorted(found, key=lambda c: (rank(c), c.id)):
        chosen.setdefault((c.kind, c.code), c)
    listed = sorted(chosen.values(), key=lambda c: (KINDS.index(c.kind), c.id))
    return [c for c in listed if kind is None or c.kind == kind]


def find_category(db: Db, m: MerchantInfo, kind: str, code: str, path: str) -> Category:
    wanted = code.strip().lower()
    for c in merchant_categories(db, m, kind):
        if c.code == wanted:
            return c
    raise Refusal("unknown_category", path=path, category=code.strip()[:40])


def category_by_id(db: Db, m: MerchantInfo, kind: str, category_id: int, path: str) -> Category:
    for c in merchant_categories(db, m, kind):
        if c.id == category_id:
            return c
    raise Refusal("unknown_category", path=path, category=str(category_id))


@dataclass(frozen=True)
class NewCategory:
    kind: str
    code: str
    name_fa: str
    name_en: str


def read_new_category(body: Mapping[str, Any]) -> NewCategory:
    """A category's fields as a caller sends them (``kind``, ``code``, ``name_fa``, ``name_en``)."""
    kind = str(body.get("kind") or "").strip()
    if not kind:
        raise Refusal("field_required", path="kind")
    if kind not in KINDS:
        raise Refusal("field_invalid", path="kind", detail=("expense or receipt", "هزینه یا دریافت"))
    code = fmt.latin_digits(str(body.get("code") or "")).strip().lower()
    if not code:
        raise Refusal("field_required", path="code")
    if not CODE.fullmatch(code):
        raise Refusal("field_invalid", path="code", detail=("1 to 16 ASCII letters, digits, - or _", "۱ تا ۱۶ حرف و رقم لاتین، - یا _"))
    name_fa = fmt.normalize(str(body.get("name_fa") or ""))
    if not name_fa:
        raise Refusal("field_required", path="name_fa")
    name_en = " ".join(str(body.get("name_en") or "").split()) or code
    for path, name in (("name_fa", name_fa), ("name_en", name_en)):
        if len(name) > MAX_NAME:
            raise Refusal("field_invalid", path=path, detail=(f"at most {MAX_NAME} characters", f"حداکثر {MAX_NAME} نویسه"))
    return NewCategory(kind, code, name_fa, name_en)


def create_category(db: Db, *, club_id: int, merchant_id: int | None, new: NewCategory, idem_key: str, actor: str,
                    now: int) -> Category:
    """A shared category of the club (``merchant_id`` None) or a merchant's own; a code its scope
    has already is ``category_exists``."""
    seed_defaults(db, club_id, now)
    done = db.one(f"SELECT {_CATEGORY_COLUMNS} FROM cash_categories WHERE idem_key = ?", (idem_key,))
    if done is not None:
        return _category(done)
    if merchant_id is None:
        taken = db.one("SELECT 1 FROM cash_categories WHERE club_id = ? AND merchant_id IS NULL AND kind = ? AND code = ?",
                       (club_id, new.kind, new.code))
    else:
        taken = db.one("SELECT 1 FROM cash_categories WHERE merchant_id = ? AND kind = ? AND code = ?", (merchant_id, new.kind, new.code))
    if taken is not None:
        raise Refusal("category_exists", path="code", category=new.code)
    added = db.execute(
        "INSERT INTO cash_categories (club_id, merchant_id, kind, code, name_fa, name_en, active, created_at, idem_key)"
        " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING",
        (club_id, merchant_id, new.kind, new.code, new.name_fa, new.name_en, now, idem_key),
    )
    row = db.one(f"SELECT {_CATEGORY_COLUMNS} FROM cash_categories WHERE idem_key = ?", (idem_key,))
    if row is None:  # another process added the same code first
        raise Refusal("category_exists", path="code", category=new.code)
    category = _category(row)
    if added:
        db.audit(club_id=club_id, actor=actor, action="cash.category_added", reason="category added",
                 payload={"category": category.id, "merchant": merchant_id, "kind": new.kind, "code": new.code})
    return category


def category_for_caller(services: Services, caller: Caller, category_id: int) -> Category:
    """A category the caller manages: a merchant's own (by its staff or key, or by its club's
    management), or a shared one of the caller's club (by club management). Anything else is
    ``not_found``, as if it did not exist."""
    row = services.read(lambda db: db.one(f"SELECT {_CATEGORY_COLUMNS} FROM cash_categories WHERE id = ?", (category_id,)))
    found = None if row is None else _category(row)
    if found is not None and caller.club_id is not None:
        if caller.merchant_id is not None:
            if found.merchant_id == caller.merchant_id:
                return found
        elif found.merchant_id is None:
            if found.club_id == caller.club_id:
                return found
        else:
            try:
                merchant_for(services, caller, found.merchant_id)
                return found
            except Refusal:
                pass
    raise Refusal("not_found", path="category_id", what=("category", "دسته‌ا"))


def set_active(services: Services, caller: Caller, category_id: int, *, active: bool) -> Category:
    """Disable (or enable again) a category the caller manages: entries keep it; new ones cannot
    name it. An audit row when it changes."""
    category = category_for_caller(services, caller, category_id)

    def work(db: Db) -> Category:
        row = db.one(f"SELECT {_CATEGORY_COLUMNS} FROM cash_categories WHERE id = ?", (category.id,))
        assert row is not None
        current = _category(row)
        if current.active != active:
            db.execute("UPDATE cash_categories SET active = ? WHERE id = ?", (1 if active else 0, category.id))
            db.audit(club_id=current.club_id, actor=caller.actor, action="cash.category_enabled" if active else "cash.category_disabled",
                     reason="category enabled" if active else "category disabled",
                     payload={"category": current.id, "merchant": current.merchant_id, "code": current.code})
        return Category(current.id, current.club_id, current.merchant_id, current.kind, current.code, current.name_fa,
                        current.name_en, active)

    return services.write(work)


# --- entries ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: int
    club_id: int
    merchant_id: int
    kind: str
    category_id: int | None
    amount_rial: int
    note: str
    at: int
    day: int
    source: str
    terminal_id: int | None
    actor: str
    voided_at: int | None
    voided_by: str | None
    void_reason: str | None
    fingerprint: str
    answer: dict[str, Any]
    category_code: str | None
    category_fa: str | None
    category_en: str | None

    @property
    def voided(self) -> bool:
        return self.voided_at is not None

    def category_name(self, lang: str) -> str:
        if self.category_code is None:
            return ""
        return (self.category_en if lang == "en" else self.category_fa) or ""

    def as_json(self, utc_offset_min: int) -> dict[str, Any]:
        category = None if self.category_id is None else {
            "id": self.category_id, "code": self.category_code, "name_fa": self.category_fa, "name_en": self.category_en}
        day = day_date(self.day)
        voided = None if self.voided_at is None else {
            "at": stamp(self.voided_at, utc_offset_min), "by": self.voided_by, "reason": self.void_reason}
        return {"id": self.id, "merchant_id": self.merchant_id, "kind": self.kind, "category": category,
                "amount_rial": self.amount_rial, "note": self.note, "day": day.isoformat(), "day_jalali": jalali_text(day),
                "recorded": stamp(self.at, utc_offset_min), "source": self.source, "terminal_id": self.terminal_id,
                "actor": self.actor, "voided": voided}


def _entry(row: Iterable[Any]) -> Entry:
    (i, club, merchant, kind, category, amount, note, at, day, source, terminal, actor, voided_at, voided_by, reason,
     fingerprint, answer, code, fa, en) = row
    return Entry(int(i), int(club), int(merchant), str(kind), None if category is None else int(category), int(amount),
                 str(note or ""), int(at), int(day), str(source), None if terminal is None else int(terminal), str(actor),
                 None if voided_at is None else int(voided_at), voided_by, reason, str(fingerprint),
                 json.loads(answer) if answer else {}, code, fa, en)


def entry_by(db: Db, column: str, value: Any) -> Entry | None:
    assert column in ("id", "idem_key", "void_key")
    row = db.one(f"SELECT {_ENTRY_COLUMNS} FROM cash_entries e LEFT JOIN cash_categories c ON c.id = e.category_id"
                 f" WHERE e.{column} = ?", (value,))
    return None if row is None else _entry(row)


@dataclass(frozen=True)
class NewEntry:
    """An entry as a channel read it: ``category`` a code (terminal, API) or None; ``category_id``
    an id (panel, API); ``day`` None for today."""

    kind: str
    amount_rial: int | None
    category: str | None = None
    category_id: int | None = None
    note: str = ""
    day: dt.date | None = None
    #: Where each field came from, for refusals (the API's body paths, the terminal's tags).
    paths: Mapping[str, str] = field(default_factory=dict)

    def path(self, name: str) -> str:
        return self.paths.get(name, name)

    def fingerprint(self, merchant_id: int) -> str:
        return json.dumps([merchant_id, self.kind, self.amount_rial, (self.category or "").strip().lower(), self.category_id,
                           self.note.strip(), None if self.day is None else self.day.isoformat()], ensure_ascii=False)


def check_amount(amount_rial: int | None, path: str) -> int:
    if amount_rial is None:
        raise Refusal("field_required", path=path)
    if amount_rial <= 0:
        raise Refusal("amount_must_be_positive", path=path)
    if amount_rial > MAX_AMOUNT_RIAL:
        raise Refusal("amount_too_large", path=path)
    return amount_rial


def day_totals(db: Db, merchant_id: int, day: int) -> dict[str, int]:
    """A merchant's expenses and cash receipts of one day, voided entries left out."""
    rows = db.all("SELECT kind, SUM(amount_rial) FROM cash_entries WHERE merchant_id = ? AND day = ? AND voided_at IS NULL"
                  " GROUP BY kind", (merchant_id, day))
    totals = {kind: 0 for kind in KINDS}
    for kind, amount in rows:
        totals[str(kind)] = int(amount or 0)
    return totals


def receipt_lines(entry_kind: str, category: str, amount_rial: int, totals: Mapping[str, int], entry_id: int) -> list[str]:
    """The lines a terminal prints (Persian): what was recorded and the day's totals so far."""
    money = fmt.money(amount_rial, "fa")
    head = "هزینه ثبت شد" if entry_kind == "expense" else "دریافت نقدی ثبت شد"
    return [
        f"{head}: {category} {money}" if category else f"{head}: {money}",
        f"جمع هزینه‌های امروز: {fmt.money(totals['expense'], 'fa')}",
        f"جمع دریافت‌های نقدی امروز: {fmt.money(totals['receipt'], 'fa')}",
        f"شماره ثبت: {fmt.digits(entry_id, 'fa')}",
    ]


def record(services: Services, m: MerchantInfo, new: NewEntry, *, source: str, idem_key: str, actor: str,
           terminal_id: int | None = None, wire: Mapping[str, str] | None = None) -> Entry:
    """Record an expense or a cash receipt of merchant ``m`` (one transaction). A repeat of
    ``idem_key`` answers the stored entry; the same key with another request is
    ``exists_with_different_request``."""
    if new.kind not in KINDS:
        raise Refusal("field_invalid", path="kind", detail=("expense or receipt", "هزینه یا دریافت"))
    fingerprint = new.fingerprint(m.id)
    offset = services.utc_offset_min(m.club_id)

    def repeat(found: Entry) -> Entry:
        if found.fingerprint != fingerprint:
            raise Refusal("exists_with_different_request", path="idem_key")
        return found

    def work(db: Db) -> Entry:
        found = entry_by(db, "idem_key", idem_key)
        if found is not None:
            return repeat(found)
        amount = check_amount(new.amount_rial, new.path("amount_rial"))
        seed_defaults(db, m.root_club_id, services.now())
        category = _category_of(db, m, new)
        note = " ".join(new.note.split())
        if len(note) > MAX_NOTE:
            raise Refusal("field_invalid", path=new.path("note"), detail=(f"at most {MAX_NOTE} characters", f"حداکثر {MAX_NOTE} نویسه"))
        now = services.now()
        today = local_day(now, offset)
        day = today if new.day is None else day_number(new.day)
        if day > today:
            raise Refusal("field_invalid", path=new.path("day"), detail=("a day still to come", "روزی که هنوز نیامده"))
        if day < today - MAX_DAYS_BACK:
            raise Refusal("field_invalid", path=new.path("day"), detail=(f"more than {MAX_DAYS_BACK} days ago", f"بیش از {MAX_DAYS_BACK} روز پیش"))
        added = db.execute(
            "INSERT INTO cash_entries (club_id, merchant_id, kind, category_id, amount_rial, note, at, day, source, terminal_id,"
            " idem_key, fingerprint, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (m.root_club_id, m.id, new.kind, None if category is None else category.id, amount, note, now, day, source,
             terminal_id, idem_key, fingerprint, actor),
        )
        entry = entry_by(db, "idem_key", idem_key)
        assert entry is not None
        if not added:  # another process stored this key first
            return repeat(entry)
        lines = receipt_lines(new.kind, "" if category is None else category.name_fa, amount, day_totals(db, m.id, day), entry.id)
        answer = {"lines": lines, **dict(wire or {})}
        db.execute("UPDATE cash_entries SET answer = ? WHERE id = ?", (json.dumps(answer, ensure_ascii=False), entry.id))
        db.emit("cash.entry_recorded", club_id=m.root_club_id, key=str(entry.id), payload={
            "entry_id": entry.id, "merchant_id": m.id, "kind": new.kind, "amount_rial": amount, "day": day_date(day).isoformat(),
            "category": None if category is None else category.code, "source": source})
        stored = entry_by(db, "id", entry.id)
        assert stored is not None
        return stored

    return services.write(work)


def _category_of(db: Db, m: MerchantInfo, new: NewEntry) -> Category | None:
    if new.category_id is not None:
        return category_by_id(db, m, new.kind, new.category_id, new.path("category_id"))
    code = (new.category or "").strip()
    if code:
        return find_category(db, m, new.kind, code, new.path("category"))
    if new.kind == "expense":
        raise Refusal("field_required", path=new.path("category"))
    return None


def entry_for_caller(services: Services, caller: Caller, entry_id: int) -> Entry:
    """An entry the caller may see: their merchant's (merchant staff and merchant-bound keys), or
    of a merchant of their club. Anything else is ``not_found``, as if it did not exist."""
    found = services.read(lambda db: entry_by(db, "id", entry_id))
    if found is not None and caller.club_id is not None:
        if caller.merchant_id is not None:
            if found.merchant_id == caller.merchant_id:
                return found
        else:
            try:
                merchant_for(services, caller, found.merchant_id)
                return found
            except Refusal:
                pass
    raise Refusal("not_found", path="entry_id", what=("entry", "ثبت"))


def void(services: Services, caller: Caller, entry_id: int, reason: str, *, idem_key: str) -> Entry:
    """Void an entry with a reason (an audit row, an event); it stays in the book, struck out. A
    repeat of ``idem_key`` answers the voided entry; voiding a voided entry is ``already_reversed``."""
    entry = entry_for_caller(services, caller, entry_id)
    reason = " ".join(reason.split())
    if entry.voided:
        done = services.read(lambda db: entry_by(db, "void_key", idem_key))
        if done is not None and done.id == entry.id:
            return done
    if not reason:
        raise Refusal("reason_required", path="reason")
    if len(reason) > MAX_REASON:
        raise Refusal("field_invalid", path="reason", detail=(f"at most {MAX_REASON} characters", f"حداکثر {MAX_REASON} نویسه"))

    def work(db: Db) -> Entry:
        done = entry_by(db, "void_key", idem_key)
        if done is not None:
            if done.id != entry.id:
                raise Refusal("exists_with_different_request", path="idem_key")
            return done
        now = services.now()
        changed = db.execute("UPDATE cash_entries SET voided_at = ?, voided_by = ?, void_reason = ?, void_key = ?"
                             " WHERE id = ? AND voided_at IS NULL", (now, caller.actor, reason, idem_key, entry.id))
        if not changed:
            raise Refusal("already_reversed", path="entry_id")
        db.audit(club_id=entry.club_id, actor=caller.actor, action="cash.entry_voided", reason=reason, payload={
            "entry": entry.id, "merchant": entry.merchant_id, "kind": entry.kind, "amount_rial": entry.amount_rial,
            "day": day_date(entry.day).isoformat()})
        db.emit("cash.entry_voided", club_id=entry.club_id, key=str(entry.id), payload={
            "entry_id": entry.id, "merchant_id": entry.merchant_id, "kind": entry.kind, "amount_rial": entry.amount_rial,
            "day": day_date(entry.day).isoformat(), "reason": reason})
        stored = entry_by(db, "id", entry.id)
        assert stored is not None
        return stored

    return services.write(work)


def list_entries(db: Db, *, club_id: int | None, merchant_id: int | None, first: int | None, last: int | None,
                 kind: str | None, before_id: int | None, limit: int) -> list[Entry]:
    """Entries newest first (by id), of one merchant or of a whole club, within days and of a kind."""
    where: list[str] = []
    params: list[object] = []
    if merchant_id is not None:
        where.append("e.merchant_id = ?")
        params.append(merchant_id)
    else:
        assert club_id is not None
        where.append("e.club_id = ?")
        params.append(club_id)
    for clause, value in (("e.day >= ?", first), ("e.day <= ?", last), ("e.kind = ?", kind), ("e.id < ?", before_id)):
        if value is not None:
            where.append(clause)
            params.append(value)
    rows = db.all(f"SELECT {_ENTRY_COLUMNS} FROM cash_entries e LEFT JOIN cash_categories c ON c.id = e.category_id"
                  f" WHERE {' AND '.join(where)} ORDER BY e.id DESC LIMIT ?", (*params, limit))
    return [_entry(r) for r in rows]


# --- the daily income report --------------------------------------------------------------------------------


@dataclass
class Line:
    """One category's amount in a report (``code`` None: receipts without a category)."""

    code: str | None
    name_fa: str
    name_en: str
    amount_rial: int = 0
    count: int = 0

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_fa

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "name_fa": self.name_fa, "name_en": self.name_en, "amount_rial": self.amount_rial,
                "count": self.count}


UNCATEGORISED = ("بدون دسته", "Uncategorised")


@dataclass
class Day:
    day: dt.date
    card_purchases: int = 0
    card_sales_rial: int = 0
    card_refunds_rial: int = 0
    receipts_rial: int = 0
    expenses_rial: int = 0
    expenses: dict[str, int] = field(default_factory=dict)

    @property
    def card_net_rial(self) -> int:
        return self.card_sales_rial - self.card_refunds_rial

    @property
    def net_rial(self) -> int:
        return self.card_net_rial + self.receipts_rial - self.expenses_rial

    def as_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "day_jalali": jalali_text(self.day), "card_purchases": self.card_purchases,
                "card_sales_rial": self.card_sales_rial, "card_refunds_rial": self.card_refunds_rial,
                "card_net_rial": self.card_net_rial, "cash_receipts_rial": self.receipts_rial,
                "expenses_rial": self.expenses_rial, "expenses_by_category": dict(self.expenses), "net_rial": self.net_rial}


@dataclass
class Report:
    merchant: MerchantInfo
    first: dt.date
    last: dt.date
    days: list[Day]
    totals: Day
    expenses: list[Line]
    receipts: list[Line]

    def as_json(self) -> dict[str, Any]:
        totals = self.totals.as_json()
        for key in ("day", "day_jalali", "expenses_by_category"):
            totals.pop(key)
        totals["expenses_by_category"] = [line.as_json() for line in self.expenses]
        totals["cash_receipts_by_category"] = [line.as_json() for line in self.receipts]
        return {"merchant": {"id": self.merchant.id, "name_fa": self.merchant.name_fa, "name_en": self.merchant.name_en},
                "from": self.first.isoformat(), "to": self.last.isoformat(), "from_jalali": jalali_text(self.first),
                "to_jalali": jalali_text(self.last), "days": [d.as_json() for d in self.days], "totals": totals}

    def csv(self) -> str:
        """One line per day and a total line; a column per expense category of the period."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        codes = [line.code or "" for line in self.expenses]
        writer.writerow(["day", "day_jalali", "card_purchases", "card_sales_rial", "card_refunds_rial", "card_net_rial",
                         "cash_receipts_rial", "expenses_rial", *[f"expense:{c}" for c in codes], "net_rial"])
        for d in [*self.days, self.totals]:
            label = (d.day.isoformat(), jalali_text(d.day)) if d is not self.totals else ("total", "")
            writer.writerow([*label, d.card_purchases, d.card_sales_rial, d.card_refunds_rial, d.card_net_rial, d.receipts_rial,
                             d.expenses_rial, *[d.expenses.get(c, 0) for c in codes], d.net_rial])
        return out.getvalue()


def period(query: Mapping[str, str], today: dt.date, *, first_key: str = "from", last_key: str = "to") -> tuple[dt.date, dt.date]:
    """The report's days: ``from`` and ``to`` (ISO or Jalali), by default this Jalali month so far."""
    first_text, last_text = (query.get(first_key) or "").strip(), (query.get(last_key) or "").strip()
    last = parse_day(last_text, last_key) if last_text else today
    first = parse_day(first_text, first_key) if first_text else month_start(min(last, today))
    if first > last:
        raise Refusal("field_invalid", path=first_key, detail=("the first day is after the last", "روز نخست پس از روز آخر است"))
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise Refusal("field_invalid", path=last_key, detail=(f"at most {MAX_PERIOD_DAYS} days", f"حداکثر {MAX_PERIOD_DAYS} روز"))
    return first, last


def today_of(services: Services, club_id: int) -> dt.date:
    return day_date(local_day(services.now(), services.utc_offset_min(club_id)))


def income(services: Services, m: MerchantInfo, first: dt.date, last: dt.date) -> Report:
    """The merchant's daily income from ``first`` to ``last``: card sales seen by kimia (count,
    amount, refunds), cash receipts, expenses per category, and the net, per day and in total."""
    sales = services.card_sales(m.id, first.isoformat(), last.isoformat())
    a, b = day_number(first), day_number(last)
    rows = services.read(lambda db: db.all(
        "SELECT e.day, e.kind, c.code, c.name_fa, c.name_en, SUM(e.amount_rial), COUNT(*) FROM cash_entries e"
        " LEFT JOIN cash_categories c ON c.id = e.category_id WHERE e.merchant_id = ? AND e.day BETWEEN ? AND ?"
        " AND e.voided_at IS NULL GROUP BY e.day, e.kind, c.code, c.name_fa, c.name_en", (m.id, a, b)))
    days = {n: Day(day_date(n)) for n in range(a, b + 1)}
    totals = Day(last)
    for s in sales:
        d = days.get(day_number(dt.date.fromisoformat(s.day)))
        if d is None:
            continue
        d.card_purchases += s.purchases
        d.card_sales_rial += s.amount_rial
        d.card_refunds_rial += s.refunded_rial
    lines: dict[tuple[str, str | None], Line] = {}
    for day, kind, code, fa, en, amount, count in rows:
        d = days[int(day)]
        amount, count = int(amount or 0), int(count or 0)
        key = (str(kind), None if code is None else str(code))
        line = lines.setdefault(key, Line(key[1], str(fa or UNCATEGORISED[0]), str(en or UNCATEGORISED[1])))
        line.amount_rial += amount
        line.count += count
        if kind == "expense":
            d.expenses_rial += amount
            d.expenses[str(code)] = d.expenses.get(str(code), 0) + amount
        else:
            d.receipts_rial += amount
    listed = list(days.values())
    for d in listed:
        totals.card_purchases += d.card_purchases
        totals.card_sales_rial += d.card_sales_rial
        totals.card_refunds_rial += d.card_refunds_rial
        totals.receipts_rial += d.receipts_rial
        totals.expenses_rial += d.expenses_rial
        for code, amount in d.expenses.items():
            totals.expenses[code] = totals.expenses.get(code, 0) + amount

    def of(kind: str) -> list[Line]:
        found = [line for (k, _), line in lines.items() if k == kind]
        return sorted(found, key=lambda line: (-line.amount_rial, line.code or ""))

    return Report(m, first, last, listed, totals, of("expense"), of("receipt"))
