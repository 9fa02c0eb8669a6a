"""The JSON API's keys (kimia.service.apikeys): a club's admin lists the club's keys, makes a
management key (the back office's) or an integration key (an app, a site, a cash register),
optionally bound to one merchant, and revokes a key with a reason. The platform's operator does
the same for the platform's own keys, and may make a club's first keys.

A new key is shown once: in the answer to the form that made it (never in an address, a redirect
or a log), and never again; the database keeps only its hash."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import apikeys
from kimia.web.api.dispatch import parse_model
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import clubs as club_routes, keys as routes, merchants as merchant_routes
from kimia.web.panel import i18n
from kimia.web.panel.access import CLUB_ADMIN, PANEL, PLATFORM, Viewer, error_fields, service
from kimia.web.panel.pages.structure import club_id_of, form
from kimia.web.panel.site import render

i18n.add({
    "nav.keys": ("کلیدهای API", "API keys"),
    "keys.title": ("کلیدهای API", "API keys"),
    "keys.id": ("شناسه", "Id"),
    "keys.kind": ("نوع", "Kind"),
    "keys.kind_platform": ("سکو", "Platform"),
    "keys.kind_management": ("مدیریت", "Management"),
    "keys.kind_integration": ("یکپارچه‌سازی", "Integration"),
    "keys.label": ("برچسب", "Label"),
    "keys.label_hint": ("برای چه کسی یا چه برنامه‌ای است؛ در گزارش رویدادها هم ثبت می‌شود.", "Who or what it is for; also kept in the audit log."),
    "keys.merchant": ("پذیرنده", "Merchant"),
    "keys.any_merchant": ("همهٔ پذیرندگان", "Every merchant"),
    "keys.club": ("باشگاه", "Club"),
    "keys.created": ("تاریخ ساخت", "Made"),
    "keys.created_by": ("سازنده", "Made by"),
    "keys.last_used": ("آخرین استفاده", "Last used"),
    "keys.never": ("هرگز", "Never"),
    "keys.revoked": ("باطل‌شده", "Revoked"),
    "keys.live": ("فعال", "Live"),
    "keys.new": ("کلید تازه", "New key"),
    "keys.create": ("ساختن کلید", "Make the key"),
    "keys.revoke": ("ابطال", "Revoke"),
    "keys.revoked_notice": ("کلید باطل شد؛ از همین لحظه پذیرفته نمی‌شود.", "The key was revoked; it is refused from now on."),
    "keys.shown_once": ("این کلید فقط همین یک بار نمایش داده می‌شود. آن را اکنون در جای امنی نگه دارید؛ دیگر نمی‌توان آن را دید.",
                        "This key is shown this once only. Keep it somewhere safe now: it cannot be seen again."),
    "keys.state": ("وضعیت", "State"),
    "keys.kind_help": ("کلید مدیریت همهٔ کارهای باشگاه را انجام می‌دهد؛ کلید یکپارچه‌سازی برای صندوق، سایت یا اپ است و می‌تواند به یک پذیرنده محدود شود.",
                       "A management key does everything the club does; an integration key is for a cash register, a site or an app and may be bound to one merchant."),
})

NOTICES = ("keys.revoked_notice",)
KINDS_OF = {"platform": ("platform", "management", "integration"), "admin": ("management", "integration")}


def _notice() -> str | None:
    wanted = request.args.get("notice")
    return wanted if wanted in NOTICES else None


def _page(v: Viewer, *, errors: dict[str, str] | None = None, posted: dict[str, Any] | None = None, status: int = 200,
          made: Any = None, create_errors: dict[str, str] | None = None) -> Any:
    ctx = v.ctx()
    query = parse_model(PageQuery, {"limit": 100, **({"cursor": request.args["cursor"]} if request.args.get("cursor") else {})})
    page = routes.list_keys(ctx, query)
    if v.role == "platform":
        merchants: dict[int, str] = {}
        clubs = [(c.id, c.name_fa) for c in club_routes.list_clubs(ctx, PageQuery(limit=200)).items]
    else:
        merchants = {m.id: m.name_fa for m in merchant_routes.list_merchants(ctx, PageQuery(limit=200)).items}
        clubs = []
    next_url = url_for("panel.keys.keys", cursor=page.next_cursor) if page.next_cursor else None
    return render("panel/keys/keys.html", status=status, keys=page.items, kinds=KINDS_OF.get(v.role, ()), merchants=merchants,
                  clubs=clubs, next_url=next_url, errors=errors or {}, create_errors=create_errors or {}, posted=posted or {}, made=made,
                  notice=_notice())


@PANEL.page("/keys", roles=CLUB_ADMIN | PLATFORM, menu=("nav.keys", 85))
def keys(v: Viewer) -> Any:
    """The keys of the viewer's club (the platform's: its own): kind, label, merchant, last use."""
    return _page(v)


@PANEL.page("/keys", roles=CLUB_ADMIN | PLATFORM, methods=("POST",), endpoint="keys.create")
def create(v: Viewer) -> Any:
    """Make a key and show it in this answer, once."""
    data = form("kind", "label", "merchant_id", "club_id")
    kind = data.get("kind", "")
    try:
        if kind not in KINDS_OF.get(v.role, ()):
            raise reject("field_invalid", path="kind", detail="not a kind you may make")
        if kind == "platform":
            row, token = apikeys.create(service(), kind="platform", club_id=None, actor=v.actor, label=data.get("label", ""))
            made: dict[str, str | None] = {"key": token, "public_id": row.public_id}
        else:
            club = club_id_of(data.get("club_id"), "club_id") if v.role == "platform" else None
            body = parse_model(routes.KeyIn, {"kind": kind, "label": data.get("label", ""), "club_id": club,
                                              "merchant_id": data.get("merchant_id") if kind == "integration" else None})
            out = routes.create_key(v.ctx(), body)
            made = {"key": out.key, "public_id": out.public_id}
    except KimiaError as error:
        fields = error_fields(error, v.lang)
        shown = {(k if k in ("kind", "label", "merchant_id", "club_id") else ""): msg for k, msg in fields.items()}
        return _page(v, create_errors=shown, posted=data, status=400)
    return _page(v, made=made, status=201)


@PANEL.page("/keys/<public_id>/revoke", roles=CLUB_ADMIN | PLATFORM, methods=("POST",))
def revoke(v: Viewer, public_id: str) -> Any:
    """Revoke a key at once, with a reason (in the audit log)."""
    scope = None if v.role == "platform" else v.club_id
    if not 1 <= len(public_id) <= 40 or not public_id.isalnum():
        raise reject("not_found", path="public_id", what="API key")
    found = apikeys.lookup(service(), public_id)
    if found is None or found.kind == "member" or scope is not None and found.club_id != scope:
        raise reject("not_found", path="public_id", what="API key")
    reason = request.form.get("reason", "").strip()[:500]
    try:
        if not reason:
            raise reject("reason_required", path=f"reason.{public_id}")
        apikeys.revoke(service(), public_id, club_id=scope, actor=v.actor, reason=reason)
    except KimiaError as error:
        return _page(v, errors=error_fields(error, v.lang), status=400)
    current_app.extensions["kimia"].forget(public_id)
    return redirect(url_for("panel.keys.keys", notice="keys.revoked_notice"))
