"""The gift-wrap counter: a shop's staff note on the card reader how many gifts they wrapped for
customers; the club owner and the merchant see the count beside the purchases kimia saw, in the
panel and through the API.

Everything here goes through kimia's plugin contract (``kimia.plugins``); nothing else of kimia
is imported:

- a table of its own, ``example_wraps`` (with a migration: ``kimia init`` makes it);
- a terminal operation: 0200 with processing code ``99`` and the field-48 tag ``GW`` (how many
  wraps, 1 to 99), answered with receipt lines (``RL``);
- API routes ``GET`` and ``POST /api/v1/example/gift-wraps`` (management and integration keys);
- a panel page ``/panel/example/gift-wraps`` with a menu entry, its template and its words;
- ``kimia_operation_committed``: every purchase kimia commits is counted too (``example_purchases``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from kimia.plugins import hookimpl
from kimia.plugins.types import (ApiCall, ApiRoute, Db, MenuEntry, Migration, PageCall, PanelPage, PluginSchema, RawAnswer,
                                 Refusal, Services, TemplateDir, TerminalOperation, TerminalReply, TerminalRequest)

#: The field-48 tag of the request: how many gifts were wrapped (ASCII digits).
TAG = "GW"
#: The processing code (field 3, first two digits): 97-99 are left to third-party plugins.
PROCESSING_CODE = "99"
MAX_WRAPS = 99
MAX_LIMIT = 200
_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

#: kimia's services, handed over at start-up (``kimia_startup``) for the notification hook, which
#: gets none; None before start-up and after shut-down.
_services: Services | None = None


# --- the table ------------------------------------------------------------------------------------


def _create_tables(db: Db) -> None:
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    db.execute(f"CREATE TABLE example_wraps (id {key}, club_id BIGINT NOT NULL, merchant_id BIGINT NOT NULL,"
               " wraps BIGINT NOT NULL, today BIGINT NOT NULL, at BIGINT NOT NULL, actor TEXT NOT NULL,"
               " idem_key TEXT NOT NULL UNIQUE)")
    db.execute("CREATE INDEX example_wraps_club ON example_wraps (club_id, id)")
    db.execute("CREATE INDEX example_wraps_merchant ON example_wraps (merchant_id, at)")
    db.execute("CREATE TABLE example_purchases (op_id BIGINT PRIMARY KEY, club_id BIGINT NOT NULL, at BIGINT NOT NULL)")
    db.execute("CREATE INDEX example_purchases_club ON example_purchases (club_id, at)")


@hookimpl
def kimia_register_schema() -> PluginSchema:
    return PluginSchema("example", (Migration("0001", _create_tables),))


# --- the one write -------------------------------------------------------------------------------


def _day_start(services: Services, club_id: int, now: int) -> int:
    """The start of the club's local day holding ``now`` (Unix seconds)."""
    offset = services.utc_offset_min(club_id) * 60
    return (now + offset) // 86_400 * 86_400 - offset


def _wraps_of(text: str | None, path: str) -> int:
    if text is None or text == "":
        raise Refusal("field_required", path=path)
    text = str(text).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_WRAPS:
        raise Refusal("field_invalid", path=path, detail=(f"a number of wraps from 1 to {MAX_WRAPS}",
                                                          f"تعداد بسته‌بندی، از ۱ تا {str(MAX_WRAPS).translate(_FA_DIGITS)}"))
    return int(text)


def record(services: Services, *, club_id: int, merchant_id: int, wraps: int, actor: str, idem_key: str) -> dict[str, Any]:
    """Note ``wraps`` gift wraps at a merchant, once per ``idem_key``: a repeat is answered as the
    first was (the merchant's count for the day is kept with the row)."""
    day_start = _day_start(services, club_id, services.now())

    def work(db: Db) -> tuple[Any, ...]:
        now = services.now()
        before = db.one("SELECT COALESCE(SUM(wraps), 0) FROM example_wraps WHERE merchant_id = ? AND at >= ?", (merchant_id, day_start))
        today = int(before[0] if before else 0) + wraps
        db.execute("INSERT INTO example_wraps (club_id, merchant_id, wraps, today, at, actor, idem_key) VALUES (?,?,?,?,?,?,?)"
                   " ON CONFLICT (idem_key) DO NOTHING", (club_id, merchant_id, wraps, today, now, actor, idem_key))
        row = db.one("SELECT id, merchant_id, wraps, today, at FROM example_wraps WHERE idem_key = ?", (idem_key,))
        assert row is not None
        return row

    return _item(services.write(work))


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    wrap_id, merchant_id, wraps, today, at = row
    return {"id": int(wrap_id), "merchant_id": int(merchant_id), "wraps": int(wraps), "today": int(today),
            "at": dt.datetime.fromtimestamp(int(at), dt.timezone.utc).isoformat()}


# --- the terminal operation ----------------------------------------------------------------------

def wrap_at_terminal(request: TerminalRequest) -> TerminalReply:
    """0200, 3 = 99xxxx, 48 GW = how many: noted for the terminal's merchant."""
    wraps = _wraps_of(request.tag(TAG), TAG)
    merchant = request.services.merchant(request.terminal.merchant_id)
    done = record(request.services, club_id=merchant.club_id, merchant_id=merchant.id, wraps=wraps,
                  actor=f"terminal:{request.terminal.terminal_id}", idem_key=f"terminal:{request.idem_key}")
    return TerminalReply("00", items=[
        (TAG, str(done["wraps"])),
        ("RL", f"بسته‌بندی هدیه: {str(done['wraps']).translate(_FA_DIGITS)} عدد"),
        ("RL", f"امروز در این فروشگاه: {str(done['today']).translate(_FA_DIGITS)} عدد"),
    ])


@hookimpl
def kimia_register_terminal_operations() -> list[TerminalOperation]:
    return [TerminalOperation("example.gift_wrap", ("0200",), (PROCESSING_CODE,), wrap_at_terminal)]


# --- the API ----------------------------------------------------------------------------------------


def _merchant_of(services: Services, caller_club: int | None, caller_merchant: int | None, value: Any, path: str) -> tuple[int, int]:
    """(club, merchant) a caller names: another club's merchant, or another merchant than the one
    a caller is bound to, is not found."""
    if caller_merchant is not None and (value is None or value == ""):
        value = caller_merchant
    if value is None or value == "":
        raise Refusal("field_required", path=path)
    if isinstance(value, bool) or not str(value).isascii() or not str(value).isdigit():
        raise Refusal("field_invalid", path=path, detail=("a merchant id", "شناسه پذیرنده"))
    merchant_id = int(value)
    try:
        merchant = services.merchant(merchant_id)
    except Exception:
        raise Refusal("not_found", path=path, what=("merchant", "پذیرنده")) from None
    if merchant.club_id != caller_club or (caller_merchant is not None and merchant_id != caller_merchant):
        raise Refusal("not_found", path=path, what=("merchant", "پذیرنده"))
    return merchant.club_id, merchant_id


def api_add(call: ApiCall) -> Any:
    """Note gift wraps at a merchant of the caller's club."""
    club, merchant = _merchant_of(call.services, call.caller.club_id, call.caller.merchant_id, call.body.get("merchant_id"), "merchant_id")
    wraps = _wraps_of(None if call.body.get("wraps") is None else str(call.body.get("wraps")), "wraps")
    assert call.idem_key is not None  # every POST carries one
    return record(call.services, club_id=club, merchant_id=merchant, wraps=wraps, actor=call.caller.actor, idem_key=call.idem_key)


def _page_of(services: Services, club_id: int | None, merchant_id: int | None, query: Any) -> tuple[list[dict[str, Any]], int | None, int]:
    limit_text, cursor_text = query.get("limit", "50"), query.get("cursor", "")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise Refusal("field_invalid", path="limit", detail=(f"1 to {MAX_LIMIT}", f"۱ تا {str(MAX_LIMIT).translate(_FA_DIGITS)}"))
    if cursor_text and not cursor_text.isdigit():
        raise Refusal("field_invalid", path="cursor", detail=("the next_cursor of the last answer", "next_cursor پاسخ پیشین"))
    limit, cursor = int(limit_text), int(cursor_text or 0)
    where, params = "club_id = ?", [club_id]
    if merchant_id is not None:
        where, params = where + " AND merchant_id = ?", [*params, merchant_id]
    if cursor:
        where, params = where + " AND id < ?", [*params, cursor]

    def read(db: Db) -> tuple[list[tuple[Any, ...]], int]:
        rows = db.all(f"SELECT id, merchant_id, wraps, today, at FROM example_wraps WHERE {where} ORDER BY id DESC LIMIT ?",
                      (*params, limit + 1))
        seen = db.one("SELECT COUNT(*) FROM example_purchases WHERE club_id = ?", (club_id,))
        return rows, int(seen[0] if seen else 0)

    rows, purchases = services.read(read)
    items = [_item(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None), purchases


def api_list(call: ApiCall) -> Any:
    """The gift wraps noted at the caller's club (a merchant-bound key: its merchant), newest first."""
    items, next_cursor, purchases = _page_of(call.services, call.caller.club_id, call.caller.merchant_id, call.query)
    if call.query.get("format") == "csv":
        lines = ["id,merchant_id,wraps,at"] + [f"{i['id']},{i['merchant_id']},{i['wraps']},{i['at']}" for i in items]
        return RawAnswer("\n".join(lines) + "\n", filename="gift-wraps.csv")
    return {"items": items, "next_cursor": None if next_cursor is None else str(next_cursor), "purchases_seen": purchases}


@hookimpl
def kimia_register_api_routes() -> list[ApiRoute]:
    keys = frozenset({"management", "integration"})
    return [ApiRoute("GET", "/example/gift-wraps", api_list, keys, "Gift wraps noted at the club's merchants", "example"),
            ApiRoute("POST", "/example/gift-wraps", api_add, keys, "Note gift wraps at a merchant", "example")]


# --- the panel page ---------------------------------------------------------------------------------


def page(call: PageCall) -> Any:
    """The gift wraps of the club (a merchant: its own), and a form to note some."""
    caller = call.caller
    errors: dict[str, str] = {}
    if call.method == "POST":
        try:
            club, merchant = _merchant_of(call.services, caller.club_id, caller.merchant_id, call.form.get("merchant_id"), "merchant_id")
            wraps = _wraps_of(call.form.get("wraps"), "wraps")
            record(call.services, club_id=club, merchant_id=merchant, wraps=wraps, actor=caller.actor, idem_key=call.posted_form_key())
            return call.redirect(call.url_for("panel.example.gift_wraps"))
        except Refusal as refusal:
            errors = call.errors_of(refusal)
    items, next_cursor, purchases = _page_of(call.services, caller.club_id, caller.merchant_id, call.query)
    rows = [{**i, "at_s": int(dt.datetime.fromisoformat(i["at"]).timestamp())} for i in items]
    return call.render("example/gift_wraps.html", items=rows, purchases=purchases, errors=errors, form=call.form,
                       form_key=call.form_key(), bound=caller.merchant_id is not None,
                       next_url=call.url_for("panel.example.gift_wraps", cursor=next_cursor) if next_cursor else None)


@hookimpl
def kimia_register_pages() -> list[PanelPage]:
    return [PanelPage("panel", "/example/gift-wraps", "gift_wraps", page, frozenset({"admin", "merchant"}), ("GET", "POST"),
                      MenuEntry("بسته‌بندی هدیه", "Gift wraps", 510))]


@hookimpl
def kimia_register_templates() -> list[TemplateDir]:
    return [TemplateDir(str(Path(__file__).resolve().parent / "templates"))]


@hookimpl
def kimia_register_words() -> dict[str, tuple[str, str]]:
    return {
        "example.title": ("بسته‌بندی هدیه", "Gift wraps"),
        "example.intro": ("هدیه‌هایی که فروشندگان برای مشتریان بسته‌بندی کرده‌اند، در کنار خریدهایی که باشگاه دیده است.",
                          "Gifts the shops wrapped for customers, beside the purchases the club saw."),
        "example.purchases": ("خریدهای دیده‌شده: {n}", "Purchases seen: {n}"),
        "example.merchant": ("شناسه پذیرنده", "Merchant id"),
        "example.wraps": ("تعداد", "Wraps"),
        "example.today": ("امروز در این فروشگاه", "Today at this shop"),
        "example.when": ("زمان", "When"),
        "example.add": ("ثبت", "Note them"),
        "example.none": ("هنوز چیزی ثبت نشده است.", "Nothing noted yet."),
    }


# --- reacting to kimia, start-up and shut-down ----------------------------------------------------


@hookimpl
def kimia_operation_committed(kind: str, club_id: int, op_id: int) -> None:
    """Count every purchase kimia committed (once per operation, whatever the channel)."""
    services = _services
    if kind != "purchase" or services is None:
        return
    services.write(lambda db: db.execute("INSERT INTO example_purchases (op_id, club_id, at) VALUES (?,?,?)"
                                         " ON CONFLICT (op_id) DO NOTHING", (op_id, club_id, services.now())))


@hookimpl
def kimia_startup(services: Services, process: str) -> None:
    global _services
    _services = services


@hookimpl
def kimia_shutdown(process: str) -> None:
    global _services
    _services = None
