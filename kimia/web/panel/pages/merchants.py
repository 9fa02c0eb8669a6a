"""Merchants (پذیرنده), their branches and terminals (SPEC C4, C5): every club staff member reads
them; the club's admin adds merchants and branches, registers terminals (a card terminal or a
cash register, by its terminal id, ISO 8583 field 41, and merchant id, field 42) and gives a
terminal its MAC key. A key made here is shown once, in the answer to the form that made it, and
from then on only its check value (KCV), as the API (kimia/web/api/routes/merchants.py) does."""

from __future__ import annotations

import secrets
from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import directory_views
from kimia.web.api.dispatch import parse_model
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import clubs as club_routes, merchants as routes
from kimia.web.panel import i18n
from kimia.web.panel.access import CLUB_ADMIN, CLUB_READ, PANEL, Viewer, error_fields
from kimia.web.panel.pages.structure import club_id_of, club_options, form
from kimia.web.panel.site import render

i18n.add({
    "nav.merchants": ("پذیرندگان", "Merchants"),
    "merchants.title": ("پذیرندگان", "Merchants"),
    "merchants.new": ("پذیرندهٔ تازه", "New merchant"),
    "merchants.business_type": ("نوع کسب‌وکار", "Business type"),
    "merchants.marketer": ("بازاریاب", "Marketer"),
    "merchants.no_marketer": ("بدون بازاریاب", "No marketer"),
    "merchants.branches": ("شعبه‌ها", "Branches"),
    "merchants.terminals": ("پایانه‌ها", "Terminals"),
    "merchants.active": ("فعال", "Active"),
    "merchants.inactive": ("غیرفعال", "Inactive"),
    "merchants.state": ("وضعیت", "State"),
    "merchants.club": ("باشگاه", "Club"),
    "merchants.sheba": ("شماره شبا", "Sheba number"),
    "merchants.name_fa": ("نام فارسی", "Name in Persian"),
    "merchants.name_en": ("نام انگلیسی", "Name in English"),
    "merchants.create": ("افزودن پذیرنده", "Add the merchant"),
    "merchants.created": ("پذیرنده افزوده شد.", "The merchant was added."),
    "merchants.back": ("بازگشت به فهرست پذیرندگان", "Back to the merchants"),
    "merchants.add_branch": ("افزودن شعبه", "Add a branch"),
    "merchants.branch": ("شعبه", "Branch"),
    "merchants.no_branch": ("بدون شعبه", "No branch"),
    "merchants.branch_added": ("شعبه افزوده شد.", "The branch was added."),
    "merchants.register_terminal": ("ثبت پایانه", "Register a terminal"),
    "merchants.terminal_code": ("شناسهٔ پایانه (فیلد ۴۱)", "Terminal id (field 41)"),
    "merchants.merchant_code": ("شناسهٔ پذیرنده (فیلد ۴۲)", "Merchant id (field 42)"),
    "merchants.kind": ("نوع پایانه", "Terminal kind"),
    "merchants.kind_pos": ("کارت‌خوان (POS)", "Card terminal (POS)"),
    "merchants.kind_pcpos": ("صندوق فروشگاهی (PC-POS)", "Cash register (PC-POS)"),
    "merchants.key_version": ("نسخهٔ کلید", "Key version"),
    "merchants.kcv": ("مقدار بررسی کلید (KCV)", "Key check value (KCV)"),
    "merchants.no_key": ("بدون کلید", "No key"),
    "merchants.mac_key": ("کلید MAC", "MAC key"),
    "merchants.key_choice": ("کلید MAC پایانه", "The terminal's MAC key"),
    "merchants.key_none": ("فعلاً بدون کلید", "No key for now"),
    "merchants.key_generate": ("ساختن کلید تازه (AES-128)", "Make a new key (AES-128)"),
    "merchants.key_given": ("کلیدی که وارد می‌کنم (هگز)", "A key I enter (hex)"),
    "merchants.key_hex": ("کلید به هگز (۳۲ یا ۶۴ رقم)", "Key in hex (32 or 64 digits)"),
    "merchants.set_key": ("ثبت یا چرخش کلید", "Set or rotate the key"),
    "merchants.terminal_registered": ("پایانه ثبت شد.", "The terminal was registered."),
    "merchants.key_set": ("کلید تازهٔ پایانه ثبت شد.", "The terminal's new key was set."),
    "merchants.key_once": ("این کلید فقط همین یک بار نمایش داده می‌شود؛ آن را اکنون در پایانه وارد کنید. از این پس فقط مقدار بررسی (KCV) آن دیده می‌شود.",
                           "This key is shown this once only: enter it into the terminal now. From now on only its check value (KCV) is shown."),
    "merchants.details": ("مشخصات", "Details"),
    "merchants.since": ("عضویت از", "Since"),
})

NOTICES = ("merchants.created", "merchants.branch_added")
ALL = PageQuery(limit=200)


def _notice() -> str | None:
    wanted = request.args.get("notice")
    return wanted if wanted in NOTICES else None


def _marketer_options(v: Viewer) -> list[tuple[int, str]]:
    return [(m.id, m.name_fa) for m in club_routes.list_marketers(v.ctx(), ALL).items]


def _list(v: Viewer, errors: dict[str, str] | None = None, posted: dict[str, Any] | None = None, status: int = 200) -> Any:
    ctx = v.ctx()
    query = parse_model(PageQuery, {"limit": 100, **({"cursor": request.args["cursor"]} if request.args.get("cursor") else {})})
    page = routes.list_merchants(ctx, query)
    marketers = dict(_marketer_options(v))
    counts = directory_views.merchant_counts(ctx.svc, ctx.clubs(), [m.id for m in page.items])
    clubs = club_options(v)
    next_url = url_for("panel.merchants.merchants", cursor=page.next_cursor) if page.next_cursor else None
    return render("panel/merchants/list.html", status=status, merchants=page.items, marketers=marketers, counts=counts,
                  clubs=clubs, club_names=dict(clubs), next_url=next_url, errors=errors or {}, posted=posted or {},
                  notice=_notice())


@PANEL.page("/merchants", roles=CLUB_READ, menu=("nav.merchants", 62))
def merchants(v: Viewer) -> Any:
    """The club tree's merchants: business type, marketer, branches and terminals."""
    return _list(v)


@PANEL.page("/merchants", roles=CLUB_ADMIN, methods=("POST",), endpoint="merchants.create")
def create(v: Viewer) -> Any:
    data = form("club_id", "name_fa", "name_en", "business_type", "sheba", "marketer_id")
    try:
        body = parse_model(routes.MerchantIn, {**data, "club_id": club_id_of(data.get("club_id"), "club_id")})
        made = routes.create_merchant(v.ctx(), body)
    except KimiaError as error:
        return _list(v, error_fields(error, v.lang), data, 400)
    return redirect(url_for("panel.merchants.merchant", merchant_id=made.id, notice="merchants.created"))


def _merchant(v: Viewer, merchant_id: int, *, errors: dict[str, str] | None = None, form_name: str = "", status: int = 200,
              posted: dict[str, Any] | None = None, notice: str | None = None, shown_key: str | None = None,
              keyed: Any = None) -> Any:
    ctx = v.ctx()
    found = routes.get_merchant(ctx, merchant_id)
    branches = routes.list_branches(ctx, merchant_id, ALL).items
    terminals = routes.list_terminals(ctx, merchant_id, ALL).items
    marketers = dict(_marketer_options(v))
    return render("panel/merchants/merchant.html", status=status, m_=found, branches=branches,
                  branch_names={b.id: b.name_fa for b in branches}, terminals=terminals, marketers=marketers,
                  club_names=dict(club_options(v)), errors=errors or {}, form_name=form_name, posted=posted or {},
                  notice=notice or _notice(), shown_key=shown_key, keyed=keyed)


@PANEL.page("/merchants/<int:merchant_id>", roles=CLUB_READ)
def merchant(v: Viewer, merchant_id: int) -> Any:
    """A merchant: its details, branches and terminals (keys by version and check value only)."""
    return _merchant(v, merchant_id)


@PANEL.page("/merchants/<int:merchant_id>/branches", roles=CLUB_ADMIN, methods=("POST",))
def add_branch(v: Viewer, merchant_id: int) -> Any:
    data = form("name_fa")
    ctx = v.ctx()
    routes.get_merchant(ctx, merchant_id)  # another club's merchant: 404 before the form is read
    try:
        routes.create_branch(ctx, merchant_id, parse_model(routes.BranchIn, data))
    except KimiaError as error:
        return _merchant(v, merchant_id, errors=error_fields(error, v.lang), form_name="branch", status=400, posted=data)
    return redirect(url_for("panel.merchants.merchant", merchant_id=merchant_id, notice="merchants.branch_added"))


def _new_key(choice: str, typed: str) -> tuple[str | None, bool]:
    """The key the form asks for, in hex, and whether it was made here (then shown once)."""
    if choice == "generate":
        return secrets.token_hex(16).upper(), True
    if choice == "given":
        return typed.replace(" ", ""), False
    return None, False


@PANEL.page("/merchants/<int:merchant_id>/terminals", roles=CLUB_ADMIN, methods=("POST",))
def register_terminal(v: Viewer, merchant_id: int) -> Any:
    """Register a terminal; a key made here is shown in this answer only (never in a redirect)."""
    data = form("terminal_code", "merchant_code", "kind", "branch_id", "key", "key_hex")
    ctx = v.ctx()
    routes.get_merchant(ctx, merchant_id)
    key, made_here = _new_key(data.get("key", "none"), data.get("key_hex", ""))
    fields = {k: data[k] for k in ("terminal_code", "merchant_code", "kind", "branch_id") if k in data}
    try:
        body = parse_model(routes.TerminalIn, {**fields, **({"mac_key_hex": key} if key else {})})
        made = routes.register_terminal(ctx, merchant_id, body)
    except KimiaError as error:
        found = error_fields(error, v.lang)
        if "mac_key_hex" in found:
            found["key_hex"] = found.pop("mac_key_hex")
        return _merchant(v, merchant_id, errors=found, form_name="terminal", status=400, posted=data)
    return _merchant(v, merchant_id, notice="merchants.terminal_registered", shown_key=key if made_here else None, keyed=made)


@PANEL.page("/terminals/<int:terminal_id>/mac-key", roles=CLUB_ADMIN, methods=("POST",))
def set_mac_key(v: Viewer, terminal_id: int) -> Any:
    """Give a terminal a new MAC key (rotation); a key made here is shown in this answer only."""
    ctx = v.ctx()
    terminal = routes.get_terminal(ctx, terminal_id)
    data = form("key", "key_hex")
    key, made_here = _new_key(data.get("key", "generate"), data.get("key_hex", ""))
    try:
        if key is None:
            raise reject("field_required", path="key_hex")
        done = routes.set_mac_key(ctx, terminal_id, parse_model(routes.MacKeyIn, {"key_hex": key}))
    except KimiaError as error:
        found = {f"key_hex.{terminal_id}": msg for msg in error_fields(error, v.lang).values()}
        return _merchant(v, terminal.merchant_id, errors=found, form_name="key", status=400)
    return _merchant(v, terminal.merchant_id, notice="merchants.key_set", shown_key=key if made_here else None, keyed=done)
