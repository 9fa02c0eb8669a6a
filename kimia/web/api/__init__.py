"""The JSON API, ``/api/v1`` (docs/api.md): one blueprint serving every endpoint declared in
``kimia/web/api/routes/`` (each module an area), plus the OpenAPI document and its reference page."""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

import pluggy
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from kimia.errors import reject
from kimia.web.api import openapi, routes
from kimia.web.api.dispatch import JSON_TYPE, error_response, language, serve
from kimia.web.api.endpoint import REGISTRY, Endpoint
from kimia.web.api.limits import MAX_REQUEST_BYTES


def load_routes() -> list[Endpoint]:
    """Import every area module (each declares its endpoints once); the registry in order."""
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda i: i.name):
        importlib.import_module(f"{routes.__name__}.{info.name}")
    return REGISTRY


def blueprint(plugins: pluggy.PluginManager | None = None) -> Blueprint:
    """kimia's endpoints and those the plugins register (kimia.web.plugins)."""
    from kimia.web.plugins import api_endpoints

    bp = Blueprint("api", __name__)
    extra = api_endpoints(plugins) if plugins is not None else []
    taken = {ep.key for ep in load_routes()}
    for ep in extra:
        if ep.key in taken:
            raise ValueError(f"a plugin's route {ep.key} is taken")
        taken.add(ep.key)
    for ep in [*load_routes(), *extra]:
        bp.add_url_rule(ep.rule, endpoint=ep.name, view_func=_view(ep), methods=[ep.method])
    if not extra:
        bp.add_url_rule("/openapi.json", endpoint="openapi", view_func=_openapi_json)
        bp.add_url_rule("/docs", endpoint="reference", view_func=_reference)
        return bp
    # The plugins' routes are in this application's document (kimia.web.api.openapi.document_with).
    doc = openapi.document_with([(ep.handler.__module__, ep) for ep in extra])
    doc_json = json.dumps(doc, ensure_ascii=False, indent=1)
    reference = openapi.reference_html_of(doc)
    bp.add_url_rule("/openapi.json", endpoint="openapi", view_func=lambda: Response(doc_json, content_type=JSON_TYPE))
    bp.add_url_rule("/docs", endpoint="reference", view_func=lambda: Response(reference, content_type="text/html; charset=utf-8"))
    return bp


def _view(ep: Endpoint) -> Any:
    def view(**params: Any) -> Response:
        return serve(ep, params)
    view.__name__ = ep.name
    return view


def _openapi_json() -> Response:
    return Response(openapi.document_json(), content_type=JSON_TYPE)


def _reference() -> Response:
    return Response(openapi.reference_html(), content_type="text/html; charset=utf-8")


def http_error(error: HTTPException) -> Response | HTTPException:
    """Werkzeug's own refusals (no such route, method, a body too large) in the API's shape, for
    paths under /api/; others are left to the application."""
    if not request.path.startswith("/api/"):
        return error
    lang = language()
    if error.code == 413:
        return error_response(reject("request_too_large", limit_bytes=MAX_REQUEST_BYTES), lang)
    if error.code == 405:
        return error_response(reject("method_not_allowed", method=request.method), lang)
    if error.code is not None and error.code >= 500:
        return error_response(reject("server_error"), lang)
    if error.code == 404:
        return error_response(reject("not_found", what="endpoint"), lang)
    return error_response(reject("invalid_request", detail=error.description or str(error.code)), lang)
