"""What plugins add to the web application: API routes (``kimia_register_api_routes``), panel and
portal pages with their menu entries (``kimia_register_pages``), template folders and static
folders. Each is served by kimia's own machinery, so a plugin's route has the API's keys,
errors, rate limits and idempotency, and a plugin's page has the panel's sessions, roles, CSRF
checks, layout and languages. Plugins get the plain types of ``kimia.plugins.types`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import pluggy
from flask import Blueprint, Flask, Response, redirect, request, url_for
from jinja2 import ChoiceLoader, FileSystemLoader
from pydantic import RootModel

from kimia.errors import KimiaError
from kimia.plugins.types import ApiCall, ApiRoute, Caller, PageCall, PanelPage, RawAnswer, Refusal
from kimia.service.plugin_services import refusal_error
from kimia.web.api.endpoint import Ctx, Endpoint, Raw
from kimia.web.panel import i18n
from kimia.web.panel.access import PageSpec, Viewer, error_fields, form_key, posted_form_key


class JsonBody(RootModel[dict[str, Any]]):
    """A plugin route's body: any JSON object (the plugin reads what it needs)."""


class JsonAnswer(RootModel[Any]):
    """A plugin route's JSON answer, as it returned it."""


class PluginRaw(Raw):
    """A plugin route's file answer, with its own media type."""

    def __init__(self, text: str, filename: str | None, media_type: str) -> None:
        super().__init__(text, filename)
        object.__setattr__(self, "media_type", media_type)


def short_name(plugin_name: str) -> str:
    """The part of a plugin's name an endpoint can carry (``kimia.extras.attendance`` and
    ``kimia.extras.attendance.plugin`` → ``attendance``: a module named ``plugin`` is its package's)."""
    parts = plugin_name.split(".")
    if len(parts) > 1 and parts[-1] == "plugin":
        parts.pop()
    return parts[-1].replace("-", "_")


def collected(pm: pluggy.PluginManager, hook: str) -> Iterator[tuple[str, Any]]:
    """(plugin name, item) for every item each plugin's ``hook`` returned, kimia's built-ins first
    (``get_hookimpls`` lists them in registration order; a hook call runs them in reverse)."""
    for impl in getattr(pm.hook, hook).get_hookimpls():
        for item in impl.function() or ():
            yield impl.plugin_name, item


# --- API routes ---------------------------------------------------------------------------------


def api_endpoints(pm: pluggy.PluginManager) -> list[Endpoint]:
    """The plugins' routes as API endpoints (served by kimia.web.api.dispatch.serve)."""
    found: list[Endpoint] = []
    for plugin, route in collected(pm, "kimia_register_api_routes"):
        if route.method not in ("GET", "POST", "PUT", "DELETE"):
            raise ValueError(f"{plugin}: {route.method} {route.path}: the API serves GET, POST, PUT and DELETE")
        handler = _api_handler(route)
        handler.__name__ = f"{short_name(plugin)}_{len(found)}"
        handler.__doc__ = route.summary
        handler.__module__ = plugin  # the OpenAPI document names the plugin a route comes from
        body = JsonBody if route.method in ("POST", "PUT") else None
        mode = "record" if route.method == "POST" else "none"
        found.append(Endpoint(route.method, route.path, route.tag, frozenset(route.access), handler, None, body, None,
                              route.status, mode, route.secret_fields))  # type: ignore[arg-type]
    return found


def _api_handler(route: ApiRoute) -> Callable[..., Any]:
    def handle(ctx: Ctx, body: JsonBody | None = None, **params: Any) -> Any:
        p = ctx.principal
        caller = Caller(p.kind, p.club_id, ctx.actor, ctx.lang, p.merchant_id, p.branch_id, p.member_id)
        key = request.headers.get("Idempotency-Key")
        call = ApiCall(caller, params, dict(request.args.items()), body.root if body is not None else {},
                       f"api:{p.key_id}:{key}" if key else None, ctx.svc.plugin_services)
        try:
            result = route.handler(call)
        except Refusal as refusal:
            raise refusal_error(refusal) from None
        if result is None:
            return None
        if isinstance(result, RawAnswer):
            text = result.body.decode() if isinstance(result.body, bytes) else result.body
            return PluginRaw(text, result.filename, result.media_type)
        return JsonAnswer(result)

    return handle


# --- panel and portal pages ---------------------------------------------------------------------


def page_specs(pm: pluggy.PluginManager, site: str) -> list[PageSpec]:
    """The plugins' pages of ``site`` as the panel declares its own (endpoint ``<plugin>.<name>``);
    a menu entry's words are added under ``plugin.<plugin>.<name>``."""
    specs: list[PageSpec] = []
    for plugin, page in collected(pm, "kimia_register_pages"):
        if page.site != site:
            continue
        endpoint = f"{short_name(plugin)}.{page.name}"
        menu = None
        if page.menu is not None:
            key = f"plugin.{endpoint}"
            i18n.add({key: (page.menu.label_fa, page.menu.label_en)})
            menu = (key, page.menu.order)
        specs.append(PageSpec(site, endpoint, page.rule, tuple(m.upper() for m in page.methods), frozenset(page.roles),
                              _page_view(page), menu))
    return specs


def _page_view(page: PanelPage) -> Callable[..., Any]:
    def view(v: Viewer, **params: Any) -> Any:
        from kimia.web.panel.access import service
        from kimia.web.panel.site import render

        caller = Caller(v.role, v.club_id, v.actor, v.lang, v.merchant_id, None, v.member_id)
        call = PageCall(caller, request.method, params, dict(request.args.items()), dict(request.form.items()),
                        service().plugin_services, lambda template, **values: render(template, **values), url_for,
                        lambda target: redirect(target), form_key, posted_form_key, lambda exc: _errors_of(exc, v.lang))
        try:
            result = page.view(call)
        except Refusal as refusal:
            raise refusal_error(refusal) from None
        if isinstance(result, RawAnswer):  # a file (a CSV download)
            response = Response(result.body, mimetype=result.media_type)
            if result.filename:
                response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
            return response
        return result

    return view


def _errors_of(exc: Exception, lang: str) -> dict[str, str]:
    error = refusal_error(exc) if isinstance(exc, Refusal) else exc
    if not isinstance(error, KimiaError):
        raise exc
    return error_fields(error, lang)


# --- templates and static files ------------------------------------------------------------------


def install_assets(app: Flask, pm: pluggy.PluginManager) -> None:
    """The plugins' words, their template folders after kimia's own, and their static folders."""
    for impl in pm.hook.kimia_register_words.get_hookimpls():
        words: dict[str, tuple[str, str]] = cast(dict[str, tuple[str, str]], impl.function() or {})
        i18n.add(words)
    folders = [d.path for _, d in collected(pm, "kimia_register_templates")]
    if folders:
        assert app.jinja_loader is not None
        app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(folders)])
    for _, static in collected(pm, "kimia_register_static"):
        bp = Blueprint(f"plugin_static_{static.name}", __name__, static_folder=static.path,
                       static_url_path=f"/static/plugins/{static.name}")
        app.register_blueprint(bp)

