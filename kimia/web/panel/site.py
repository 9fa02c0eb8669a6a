"""A site (the panel or the portal) as a Flask blueprint: its pages behind the guard, the viewer
loaded from the session cookie, the page's language and money unit, rendering with the helpers
every template uses, and refusals shown as pages.

Templates live in ``kimia/web/templates/<site>/`` and extend ``base.html``; the stylesheet,
script and font are in ``kimia/web/static/`` (served by the application at ``/static/``). In a
template: ``_("key")`` (words), ``v`` (the viewer), ``menu`` (their menu), filters ``num``,
``money``, ``jdate``, ``jdatetime``, ``digits``, and ``csrf_field()`` inside every form that posts.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, make_response, redirect, render_template, request, url_for
from jinja2 import pass_context
from markupsafe import Markup, escape

from kimia.errors import KimiaError
from kimia.service import staff
from kimia.web.api.problems import status_of
from kimia.web.panel import fmt
from kimia.web.panel.access import PageSpec, Site, Viewer, guard, message_of, service
from kimia.web.panel.i18n import MESSAGES, lang_of, text

LANG_COOKIE = "kimia_lang"
TOMAN_COOKIE = "kimia_toman"
#: A year: the language and money unit are preferences, not secrets.
PREFERENCE_AGE_S = 365 * 86_400


def load_pages(package: ModuleType) -> None:
    """Import every page module of a site's ``pages`` package (each declares its pages once)."""
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        importlib.import_module(f"{package.__name__}.{info.name}")


def blueprint(site: Site, pages: ModuleType, extra: list[PageSpec] | None = None) -> Blueprint:
    """The site's own pages and ``extra`` ones (the plugins': kimia.web.plugins)."""
    load_pages(pages)
    extra = extra or []
    taken = {p.endpoint for p in site.pages}
    for spec in extra:
        if spec.endpoint in taken:
            raise ValueError(f"{site.name}: page {spec.endpoint} is declared twice")
        taken.add(spec.endpoint)
    bp = Blueprint(site.name, __name__)
    areas: dict[str, Blueprint] = {}
    for spec in [*site.pages, *extra]:  # one nested blueprint per area: url_for("panel.members.search")
        area, name = spec.endpoint.split(".", 1)
        child = areas.setdefault(area, Blueprint(area, __name__))
        child.add_url_rule(spec.rule, endpoint=name, view_func=guard(site, spec), methods=list(spec.methods))
    for child in areas.values():
        bp.register_blueprint(child)
    bp.before_request(lambda: _load_viewer(site))
    bp.after_request(_remember_preferences)
    bp.register_error_handler(KimiaError, lambda error: _refused(site, error))
    bp.context_processor(lambda: {"site": site, "menu": list(site.menu_for(g.viewer, extra)) if "viewer" in g else []})
    return bp


def _load_viewer(site: Site) -> None:
    lang = lang_of(request.args.get("lang") or request.cookies.get(LANG_COOKIE))
    toman = (request.args.get("toman") or request.cookies.get(TOMAN_COOKIE)) == "1"
    token = request.cookies.get(site.cookie, "")
    svc = service()
    session = staff.session_of(svc, token) if token else None
    if session is not None and session.kind != site.session_kind:
        session = None
    offset = 0
    club = session.user.club_id if session and session.user else session.club_id if session else None
    if club is not None:
        with svc.reading() as tx:
            offset = svc.caches.utc_offset_min(tx, club)
    g.viewer = Viewer(session, lang, toman, offset)


def _remember_preferences(response: Response) -> Response:
    """``?lang=`` and ``?toman=`` switch for good: kept in cookies the next pages read."""
    for arg, cookie in (("lang", LANG_COOKIE), ("toman", TOMAN_COOKIE)):
        value = request.args.get(arg)
        if value in (("fa", "en") if arg == "lang" else ("0", "1")):
            response.set_cookie(cookie, value, max_age=PREFERENCE_AGE_S, samesite="Lax", httponly=True,
                                secure=current_app.config["KIMIA_SECURE_COOKIES"])
    return response


def _refused(site: Site, error: KimiaError) -> Any:
    """A refusal no page handled itself: a signed-out POST goes to sign-in; the rest is an error
    page with the catalogue's message in the page's language and the code's HTTP status."""
    viewer: Viewer | None = g.get("viewer")
    lang = viewer.lang if viewer else "fa"
    if error.code == "session_expired" and request.method == "GET":
        return redirect(url_for(site.login_endpoint))
    return render("error.html", status=status_of(error.code), code=error.code, message=message_of(error, lang))


def render(template: str, *, status: int = 200, **values: Any) -> Response:
    """A page: the template with the viewer, the site's menu and the helpers."""
    response = make_response(render_template(template, v=g.viewer, **values), status)
    response.headers["Content-Language"] = g.viewer.lang
    return response


def every_page(fetch: Callable[[str | None], Any], most: int = 1_000) -> list[Any]:
    """The items of an API list, page after page (``fetch(cursor)`` answers a ``Page``), up to
    ``most``: for a page that shows a club's whole list (its lotteries, its voucher offers)."""
    found: list[Any] = []
    cursor = None
    while len(found) < most:
        page = fetch(cursor)
        found += page.items
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    return found


def safe_next(target: str | None, prefix: str) -> str | None:
    """A ``next=`` address only when it is a path of this site (never another host)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(prefix) or target.startswith("//"):
        return None
    return target


def install(app: Flask, *, secure_cookies: bool, panel_extra: list[PageSpec] | None = None,
            portal_extra: list[PageSpec] | None = None) -> None:
    """The panel and the portal on ``app``: blueprints (with the plugins' pages, ``*_extra``),
    template helpers, security headers."""
    from kimia.web.panel import pages as panel_pages
    from kimia.web.panel.access import PANEL, PORTAL
    from kimia.web.portal import pages as portal_pages

    app.config["KIMIA_SECURE_COOKIES"] = secure_cookies
    app.jinja_env.globals.update(_=_words, csrf_field=_csrf_field, form_key_field=_form_key_field, here=_here)
    # Each filter depends on the viewer's language: marked as taking the context, so Jinja never
    # folds ``'1405/09/15'|digits`` into the template once, in whichever language compiled it first.
    app.jinja_env.filters.update({name: _per_request(f) for name, f in
                                  dict(num=_num, money=_money, jdate=_jdate, jdatetime=_jdatetime, digits=_digits).items()})
    app.jinja_env.autoescape = True
    app.register_blueprint(blueprint(PANEL, panel_pages, panel_extra), url_prefix="/panel")
    app.register_blueprint(blueprint(PORTAL, portal_pages, portal_extra), url_prefix="/portal")
    app.after_request(_security_headers)


#: No inline script or style anywhere; nothing from another origin; no framing.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _security_headers(response: Response) -> Response:
    if request.path.startswith(("/panel", "/portal", "/static")) or request.path == "/":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.path.startswith("/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        if current_app.config["KIMIA_SECURE_COOKIES"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _here(**changes: str) -> str:
    """This page's address with some of its query changed (the language and money switches)."""
    args = {k: v for k, v in request.args.items() if k not in changes}
    args.update(changes)
    return request.path + "?" + urlencode(args)


def _viewer() -> Viewer:
    return g.viewer  # type: ignore[no-any-return]


def _words(key: str, **values: Any) -> str:
    return text(key, _viewer().lang, **values)


def _csrf_field() -> Markup:
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(_viewer().csrf_token)}">')


def _form_key_field() -> Markup:
    from kimia.web.panel.access import form_key
    return Markup(f'<input type="hidden" name="form_key" value="{form_key()}">')


def _per_request(f: Callable[[Any], str]) -> Callable[..., str]:
    @pass_context
    def run(_: Any, value: Any) -> str:
        return f(value)

    return run


def _num(value: int) -> str:
    return fmt.number(int(value), _viewer().lang)


def _money(amount_rial: int) -> str:
    return fmt.money(int(amount_rial), _viewer().lang, toman=_viewer().toman)


def _jdate(ts: int) -> str:
    return fmt.jdate(int(ts), _viewer().utc_offset_min, _viewer().lang)


def _jdatetime(ts: int) -> str:
    return fmt.jdatetime(int(ts), _viewer().utc_offset_min, _viewer().lang)


def _digits(value: object) -> str:
    return fmt.digits(value, _viewer().lang)


def words_exist(key: str) -> bool:
    return key in MESSAGES
