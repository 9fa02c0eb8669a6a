"""kimia's web application: the JSON API (``/api/v1``), the panel (``/panel``) and the member
portal (``/portal``), with their stylesheet, script and font under ``/static``.

``create_app(settings)`` builds one Flask application on the assembly (kimia.app): the service is
made once and kept in ``app.extensions["kimia"]``; there is no global application. Production runs
it under gunicorn (docs/operations.md); ``kimia web serve`` runs it for development.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect
from werkzeug.wrappers import Response

from kimia.app import assemble
from kimia.service.api import Kimia
from kimia.settings import Settings
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from kimia.web.api import blueprint as api_blueprint
from kimia.web.api import http_error
from kimia.web.api.limits import MAX_REQUEST_BYTES
from kimia.web.api.state import ApiState
from kimia.web.panel.site import install as install_sites
from kimia.web.plugins import install_assets, page_specs
from kimia.plugins.manager import started, stopping



class DatabaseId(IntegerConverter):
    """``<int:...>`` in a route: digits only. Its bounds (1 to 2**63 - 1, an id the database can
    hold) are checked by the dispatcher, which answers 404 ``not_found``: a converter that refused
    the number would make werkzeug answer 405 when another rule of the path takes another method."""


def create_app(settings: Settings | None = None, *, service: Kimia | None = None, **parts: Any) -> Flask:
    """The web application over ``service`` (made from ``settings`` by the assembly when not given;
    ``parts`` go to the assembly: a clock, plugins, a notifier). The application owns a service it
    made: ``app.extensions["kimia"].close()`` closes it.

    The plugins are started (``kimia_startup``, process ``web``) once the application is built;
    a plugin that fails to start stops it (:class:`kimia.plugins.manager.PluginStartupFailed`).
    ``app.extensions["kimia"].close()`` tells them ``kimia_shutdown`` before the service closes."""
    owned = service is None
    if service is None:
        # Read once and kept: the web settings below (secure cookies) come from the same place.
        settings = settings if settings is not None else Settings.from_env()
        service = assemble(settings, **parts)
    try:
        app = _build(service, settings)
        started(service.plugins, service.plugin_services, "web")
    except BaseException:
        if owned:
            service.close()
        raise
    pm = service.plugins
    state_of(app).on_close = lambda: stopping(pm, "web")
    return app


def _build(service: Kimia, settings: Settings | None) -> Flask:
    app = Flask("kimia.web", static_folder="static", static_url_path="/static")
    app.url_map.converters["int"] = DatabaseId
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Persian text as text, not \u escapes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["kimia"] = ApiState(service)
    app.register_blueprint(api_blueprint(service.plugins), url_prefix="/api/v1")
    app.register_error_handler(HTTPException, http_error)
    app.add_url_rule("/healthz", "healthz", _healthz)
    app.add_url_rule("/", "root", _root)
    secure = settings.web_secure_cookies if settings is not None else True
    install_sites(app, secure_cookies=secure, panel_extra=page_specs(service.plugins, "panel"),
                  portal_extra=page_specs(service.plugins, "portal"))
    install_assets(app, service.plugins)
    return app


def _root() -> Response:
    """The address alone opens the panel."""
    return redirect("/panel/")


def _healthz() -> dict[str, Any]:
    """Liveness for load balancers (and the benchmark's bare JSON endpoint): no key, no database."""
    return {"ok": True}


def state_of(app: Flask) -> ApiState:
    state: ApiState = app.extensions["kimia"]
    return state
