"""The cash extra's API routes (``/api/v1/cash/...``, tag ``cash``).

Who may call: club management keys (their club's merchants, naming ``merchant_id``) and
integration keys (a merchant-bound key acts for its merchant only: a PC-POS, an app; an unbound
one names ``merchant_id``). A merchant of another club, or another merchant's entry or category,
is answered 404 as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kimia.extras.cash import book
from kimia.plugins.types import ApiCall, ApiRoute, RawAnswer, Refusal

TAG = "cash"
READERS = frozenset({"management", "integration"})
#: Who records entries: a PC-POS or an app, with an integration key (bound to its merchant).
RECORDERS = frozenset({"integration"})
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def _int(value: Any, path: str, *, required: bool = False) -> int | None:
    """An integer from a body or a query (a JSON number, or its digits as text)."""
    if value is None or value == "":
        if required:
            raise Refusal("field_required", path=path)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Refusal("field_invalid", path=path, detail=("a whole number", "عددی صحیح"))
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit() or len(text) > 20:
            raise Refusal("field_invalid", path=path, detail=("a whole number", "عددی صحیح"))
        return int(text)
    return value


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal("field_invalid", path=key, detail=("text", "متن"))
    return value


def _key(call: ApiCall) -> str:
    if call.idem_key is None:  # every POST carries one (the API refuses it before)
        raise Refusal("missing_idempotency_key")
    return call.idem_key


def _merchant(call: ApiCall, value: Any) -> Any:
    return book.merchant_for(call.services, call.caller, _int(value, "merchant_id"))


def _offset(call: ApiCall, club_id: int) -> int:
    return call.services.utc_offset_min(club_id)


# --- categories ---------------------------------------------------------------------------------------


def list_categories(call: ApiCall) -> Any:
    """The categories to record with: a merchant's (its own and its club's, ``merchant_id`` for a
    club's key), or, for a club's key without ``merchant_id``, the club's shared ones (inactive
    ones too)."""
    kind = call.query.get("kind") or None
    if kind is not None and kind not in book.KINDS:
        raise Refusal("field_invalid", path="kind", detail=("expense or receipt", "هزینه یا دریافت"))
    caller = call.caller
    if caller.merchant_id is None and not call.query.get("merchant_id"):
        if caller.club_id is None:
            raise Refusal("forbidden", action=("read a club's categories", "دیدن دسته‌های باشگاه"))
        book.ensure_defaults(call.services, caller.club_id)
        club_id = caller.club_id
        found = call.services.read(lambda db: book.club_categories(db, club_id))
        return {"items": [c.as_json() for c in found if kind is None or c.kind == kind]}
    m = _merchant(call, call.query.get("merchant_id"))
    book.ensure_defaults(call.services, m.root_club_id)
    found = call.services.read(lambda db: [*book.merchant_categories(db, m, kind),
                                           *(c for c in book.own_categories(db, m.id) if not c.active)])
    return {"items": [c.as_json() for c in found if kind is None or c.kind == kind]}


def add_category(call: ApiCall) -> Any:
    """A category: a club's key adds a shared one (or, naming ``merchant_id``, the merchant's
    own); a merchant-bound key adds its merchant's own."""
    caller = call.caller
    if caller.club_id is None or caller.kind == "integration" and caller.merchant_id is None:
        raise Refusal("forbidden", action=("add a category", "افزودن دسته"))
    new = book.read_new_category(call.body)
    key = _key(call)
    merchant = None
    if caller.merchant_id is not None or call.body.get("merchant_id") is not None:
        merchant = _merchant(call, call.body.get("merchant_id"))
    club_id = caller.club_id if merchant is None else merchant.root_club_id
    merchant_id = None if merchant is None else merchant.id
    now = call.services.now()
    category = call.services.write(lambda db: book.create_category(db, club_id=club_id, merchant_id=merchant_id, new=new,
                                                                   idem_key=f"cash:category:{key}", actor=caller.actor, now=now))
    return category.as_json()


def _switch(call: ApiCall, active: bool) -> Any:
    caller = call.caller
    if caller.club_id is None or caller.kind == "integration" and caller.merchant_id is None:
        raise Refusal("forbidden", action=("change a category", "تغییر دسته"))
    return book.set_active(call.services, caller, int(call.params["category_id"]), active=active).as_json()


def disable_category(call: ApiCall) -> Any:
    """Disable a category: recorded entries keep it; new entries cannot name it."""
    return _switch(call, False)


def enable_category(call: ApiCall) -> Any:
    """Enable a disabled category again."""
    return _switch(call, True)


# --- entries -------------------------------------------------------------------------------------------


def _new_entry(body: Mapping[str, Any], kind: str) -> book.NewEntry:
    day_text = _text(body, "day").strip()
    category = _text(body, "category").strip() or None
    return book.NewEntry(kind, _int(body.get("amount_rial"), "amount_rial", required=True), category=category,
                         category_id=_int(body.get("category_id"), "category_id"), note=_text(body, "note"),
                         day=book.parse_day(day_text, "day") if day_text else None)


def _record(call: ApiCall, kind: str) -> Any:
    m = _merchant(call, call.body.get("merchant_id"))
    new = _new_entry(call.body, kind)
    entry = book.record(call.services, m, new, source="api", idem_key=f"cash:{_key(call)}", actor=call.caller.actor)
    return entry.as_json(_offset(call, m.club_id))


def add_expense(call: ApiCall) -> Any:
    """Record an expense: ``amount_rial``, ``category`` (its code) or ``category_id``, ``note``,
    ``day`` (today by default; ISO or Jalali)."""
    return _record(call, "expense")


def add_receipt(call: ApiCall) -> Any:
    """Record a cash receipt: ``amount_rial``, optional ``category`` or ``category_id``, ``note``, ``day``."""
    return _record(call, "receipt")


def list_entries(call: ApiCall) -> Any:
    """Entries newest first: one merchant's (``merchant_id``; a merchant-bound key's own), or a
    whole club's for a club's key; ``from``/``to`` days, ``kind``; ``limit`` (at most 200) and
    ``cursor`` (``next_cursor`` of the previous page)."""
    caller = call.caller
    q = call.query
    kind = q.get("kind") or None
    if kind is not None and kind not in book.KINDS:
        raise Refusal("field_invalid", path="kind", detail=("expense or receipt", "هزینه یا دریافت"))
    limit = _int(q.get("limit"), "limit") or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise Refusal("field_invalid", path="limit", detail=(f"1 to {MAX_LIMIT}", f"۱ تا {MAX_LIMIT}"))
    cursor = q.get("cursor") or None
    if cursor is not None and (not cursor.isdigit() or len(cursor) > 19):
        raise Refusal("invalid_cursor", path="cursor")
    merchant_id: int | None = None
    club_id = caller.club_id
    if caller.merchant_id is not None or q.get("merchant_id"):
        m = _merchant(call, q.get("merchant_id"))
        merchant_id, offset_club = m.id, m.club_id
    elif club_id is None:
        raise Refusal("forbidden", action=("read a club's cash book", "دیدن دفتر صندوق باشگاه"))
    else:
        offset_club = club_id
    first = book.day_number(book.parse_day(q["from"], "from")) if q.get("from") else None
    last = book.day_number(book.parse_day(q["to"], "to")) if q.get("to") else None
    before = int(cursor) if cursor else None
    rows = call.services.read(lambda db: book.list_entries(db, club_id=club_id, merchant_id=merchant_id, first=first, last=last,
                                                           kind=kind, before_id=before, limit=limit + 1))
    offset = _offset(call, offset_club)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [e.as_json(offset) for e in rows], "next_cursor": str(rows[-1].id) if more and rows else None}


def void_entry(call: ApiCall) -> Any:
    """Void a wrong entry with a ``reason`` (kept in the audit log); it stays listed, voided."""
    entry_id = int(call.params["entry_id"])
    reason = _text(call.body, "reason")
    entry = book.void(call.services, call.caller, entry_id, reason, idem_key=f"cash:void:{_key(call)}")
    m = call.services.merchant(entry.merchant_id)
    return entry.as_json(_offset(call, m.club_id))


def income(call: ApiCall) -> Any:
    """The merchant's daily income: card sales seen by kimia, cash receipts, expenses per
    category, and the net, per day and in total; ``from``/``to`` (this Jalali month by default);
    ``format=csv`` for a file."""
    m = _merchant(call, call.query.get("merchant_id"))
    first, last = book.period(call.query, book.today_of(call.services, m.club_id))
    report = book.income(call.services, m, first, last)
    if call.query.get("format") == "csv":
        return RawAnswer(report.csv(), filename=f"income-{m.id}-{first.isoformat()}-{last.isoformat()}.csv")
    if call.query.get("format") not in (None, "", "json"):
        raise Refusal("field_invalid", path="format", detail=("json or csv", "json یا csv"))
    return report.as_json()


ROUTES = [
    ApiRoute("GET", "/cash/categories", list_categories, READERS, "Expense and cash receipt categories", TAG),
    ApiRoute("POST", "/cash/categories", add_category, READERS, "Add a category (the club's, or a merchant's own)", TAG),
    ApiRoute("POST", "/cash/categories/<int:category_id>/disable", disable_category, READERS, "Disable a category", TAG),
    ApiRoute("POST", "/cash/categories/<int:category_id>/enable", enable_category, READERS, "Enable a category again", TAG),
    ApiRoute("POST", "/cash/expenses", add_expense, RECORDERS, "Record a merchant's expense", TAG),
    ApiRoute("POST", "/cash/receipts", add_receipt, RECORDERS, "Record a merchant's cash receipt", TAG),
    ApiRoute("GET", "/cash/entries", list_entries, READERS, "A merchant's (or the club's) expenses and cash receipts", TAG),
    ApiRoute("POST", "/cash/entries/<int:entry_id>/void", void_entry, READERS, "Void a wrong entry, with a reason", TAG),
    ApiRoute("GET", "/cash/income", income, READERS, "A merchant's daily income report (JSON or CSV)", TAG),
]
