"""The OpenAPI 3.1 document of ``/api/v1``, built from the endpoints' own typed models (never
written by hand), and a reference page rendered from it here (no script, nothing fetched).

:func:`document` is kimia's own API (what docs/api.md lists); :func:`document_with` adds the
routes an application's plugins register (kimia.web.plugins), with their summary and tag, a
free-form JSON object as body and answer, and the plugin's name: what ``/api/v1/openapi.json``
serves."""

from __future__ import annotations

import copy
import html
import json
import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kimia.web.api.endpoint import REGISTRY, Endpoint
from kimia.web.api.models import MAX_INT, ErrorOut

VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
#: The error answers every endpoint may give, besides its own success.
ERRORS: dict[str, str] = {
    "400": "The request's shape: a field missing or invalid, bad JSON, no Idempotency-Key",
    "401": "No key, or a key that is unknown, revoked or expired",
    "403": "This kind of key may not do this",
    "404": "Not there, or not the caller's",
    "409": "A conflict with what is stored (an Idempotency-Key reused for another request, ...)",
    "413": "The body is too large",
    "422": "Refused by the rules of the club or the ledger (not enough balance, ...)",
    "429": "Too many requests for this key; see Retry-After",
    "500": "An unexpected error on the server (logged); retry later with the same Idempotency-Key",
    "503": "Busy or unavailable; retry with the same Idempotency-Key",
}
#: The areas of the API in the order a reader meets them, with what each is for: integration first,
#: then a club's back office. An area not named here comes last.
TAGS: dict[str, str] = {
    "keys": "API keys and member tokens",
    "members": "Enrol, identify and read members: balances, lots, tiers, history with explanations, referral codes",
    "purchases": "A purchase, decided by the club's rules",
    "payments": "Quotes, holds, refunds, reversals, conversions and one-time codes",
    "vouchers": "Voucher offers, and a member's vouchers",
    "clubs": "The club tree, sub-clubs, meta-clubs, owners, fee tariffs and marketers",
    "merchants": "Merchants, branches, terminals and their MAC keys, merchant groups",
    "groups": "Member groups",
    "rules": "Rule sets: validate, dry run, backtest, publish, versions",
    "tiers": "Tiers, period closes and manual moves",
    "vouchers-admin": "Voucher templates",
    "lotteries": "Lotteries: seed commitment, draw, winners",
    "ledger": "Budgets, settlement, adjustments, charges, credit limits, expiry",
    "audit": "The audit log",
}


def in_reading_order(endpoints: list[Endpoint]) -> list[Endpoint]:
    """``endpoints`` by area (:data:`TAGS`' order), each area in declaration order."""
    order = list(TAGS)
    return sorted(endpoints, key=lambda ep: order.index(ep.tag) if ep.tag in order else len(order))


_TYPES = {"int": {"type": "integer", "minimum": 1, "maximum": MAX_INT}, "string": {"type": "string"}, "path": {"type": "string"}}


def _models() -> list[tuple[type[BaseModel], Any]]:
    seen: list[tuple[type[BaseModel], Any]] = [(ErrorOut, "serialization")]
    for ep in REGISTRY:
        for model, mode in ((ep.body, "validation"), (ep.answer, "serialization")):
            if model is not None and (model, mode) not in seen:
                seen.append((model, mode))
    return seen


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": prop,
             **({"description": prop["description"]} if "description" in prop else {})}
            for name, prop in schema.get("properties", {}).items()]


def _path_parameters(ep: Endpoint) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": _TYPES.get(conv, {"type": "string"})}
            for name, conv in ep.path_params]


def _header_parameters(ep: Endpoint) -> list[dict[str, Any]]:
    """The headers of every operation: a POST's Idempotency-Key, and the language asked for."""
    found: list[dict[str, Any]] = []
    if ep.method == "POST":
        found.append({"name": "Idempotency-Key", "in": "header", "required": True,
                      "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                      "description": "The same key and body again gets the first answer (docs/api.md)"})
    found.append({"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "fa (the default) or en: the language of error messages and explanations"})
    return found


def _operation(ep: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    params = _path_parameters(ep)
    if ep.query is not None:
        params += _query_parameters(ep.query)
    params += _header_parameters(ep)
    error = {"description": "", "content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}}}
    responses: dict[str, Any] = {code: {**error, "description": text} for code, text in ERRORS.items()}
    if ep.answer is not None:
        responses[str(ep.status)] = {"description": "Done", "content": {"application/json": {"schema": refs[(ep.answer, "serialization")]}}}
    elif ep.raw is not None:
        responses[str(ep.status)] = {"description": "Done (a file)", "content": {ep.raw: {"schema": {"type": "string"}}}}
    else:
        responses[str(ep.status)] = {"description": "Done (no body)"}
    op: dict[str, Any] = {
        "operationId": ep.name,
        "tags": [ep.tag],
        "summary": ep.summary,
        "description": ep.description + f"\n\nKeys: {', '.join(sorted(ep.access))}.",
        "parameters": params,
        "responses": responses,
        "security": [{"apiKey": []}],
    }
    if ep.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[(ep.body, "validation")]}}}
    return op


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    refs, defs = models_json_schema(_models(), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for ep in in_reading_order(REGISTRY):
        paths.setdefault("/api/v1" + ep.path, {})[ep.method.lower()] = _operation(ep, refs)
    used = list(dict.fromkeys(ep.tag for ep in in_reading_order(REGISTRY)))
    return {
        "openapi": "3.1.0",
        "info": {"title": "kimia API", "version": VERSION,
                 "description": "kimia's JSON API: members, purchases and their value, and a club's back office. "
                                "Conventions (keys, Idempotency-Key, errors, pagination): docs/api.md."},
        "tags": [{"name": tag, "description": TAGS.get(tag, tag)} for tag in used],
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {}),
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                                      "description": "Authorization: Bearer kimia_<kind>_<id>_<secret>"}}},
    }


@lru_cache(maxsize=1)
def document_json() -> str:
    return json.dumps(document(), ensure_ascii=False, indent=1)


_STYLE = """body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2em}.ep{margin:1em 0;padding:.5em 1em;background:#f6f6f6;border-radius:6px}
.m{font-weight:bold;display:inline-block;width:4.5em}code,pre{font:13px ui-monospace,monospace}
pre{background:#fff;padding:.5em;overflow:auto;max-height:20em}"""


#: A plugin route's body and JSON answer: any JSON object (the plugin reads what it needs).
FREE_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}


def plugin_operation(ep: Endpoint, plugin: str) -> dict[str, Any]:
    """The operation of a plugin's route: its path parameters, summary, tag and keys; a free-form
    object as body (POST, PUT) and as answer (or a file, when the plugin answers one)."""
    params = _path_parameters(ep) + _header_parameters(ep)
    error = {"description": "", "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}}}
    responses: dict[str, Any] = {code: {**error, "description": text} for code, text in ERRORS.items()}
    responses[str(ep.status)] = {"description": "Done (JSON, or a file such as a CSV when asked for one)",
                                 "content": {"application/json": {"schema": {}}, "text/csv": {"schema": {"type": "string"}}}}
    if str(ep.status) != "204":
        responses["204"] = {"description": "Done (no body)"}
    op: dict[str, Any] = {
        "operationId": ep.name,
        "tags": [ep.tag],
        "summary": ep.summary,
        "description": f"Added by the plugin {plugin}.\n\nKeys: {', '.join(sorted(ep.access))}.",
        "parameters": params,
        "responses": responses,
        "security": [{"apiKey": []}],
        "x-kimia-plugin": plugin,
    }
    if ep.method in ("POST", "PUT"):
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": FREE_OBJECT}}}
    return op


def document_with(extra: list[tuple[str, Endpoint]]) -> dict[str, Any]:
    """kimia's document plus the plugins' routes (``(plugin, endpoint)``), after kimia's own."""
    if not extra:
        return document()
    doc = copy.deepcopy(document())
    known = {tag["name"] for tag in doc["tags"]}
    for plugin, ep in extra:
        doc["paths"].setdefault("/api/v1" + ep.path, {})[ep.method.lower()] = plugin_operation(ep, plugin)
        if ep.tag not in known:
            known.add(ep.tag)
            doc["tags"].append({"name": ep.tag, "description": f"Added by the plugin {plugin}"})
    return doc


@lru_cache(maxsize=1)
def reference_html() -> str:
    """A readable reference of kimia's own endpoints and schemas, rendered from the document."""
    return reference_html_of(document())


def reference_html_of(doc: dict[str, Any]) -> str:
    """A readable reference of every endpoint and schema of ``doc``."""
    by_tag: dict[str, list[str]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            params = ", ".join(f"{p['name']} ({p['in']}{', required' if p.get('required') else ''})" for p in op["parameters"])
            ok = next(code for code in op["responses"] if code.startswith("2"))
            block = (f"<div class=ep><span class=m>{method.upper()}</span><code>{html.escape(path)}</code>"
                     f"<p>{_prose(op['summary'])}</p><p>{_prose(op['description'])}</p>"
                     f"<p>Parameters: {html.escape(params)}</p>")
            if "requestBody" in op:
                block += f"<p>Body: {_schema_link(op['requestBody']['content']['application/json']['schema'])}</p>"
            content = op["responses"][ok].get("content", {})
            schema = content.get("application/json", {}).get("schema")
            shown = _schema_link(schema) if schema else f"<code>{html.escape(next(iter(content), 'no body'))}</code>"
            block += f"<p>Answer {ok}: {shown}</p></div>"
            by_tag.setdefault(op["tags"][0], []).append(block)
    about = {t["name"]: t.get("description", "") for t in doc["tags"]}
    sections = "".join(f"<h2 id='tag-{html.escape(tag)}'>{html.escape(tag)}</h2><p>{html.escape(about.get(tag, ''))}</p>{''.join(blocks)}"
                       for tag, blocks in by_tag.items())
    contents = "".join(f"<li><a href='#tag-{html.escape(tag)}'>{html.escape(tag)}</a>: {html.escape(about.get(tag, ''))}</li>" for tag in by_tag)
    schemas = "".join(f"<h3 id='{html.escape(name)}'>{html.escape(name)}</h3><pre>{html.escape(json.dumps(s, ensure_ascii=False, indent=1))}</pre>"
                      for name, s in doc["components"]["schemas"].items())
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>kimia API reference</title>"
            f"<style>{_STYLE}</style></head><body><h1>kimia API {VERSION}</h1>"
            f"<p>{html.escape(doc['info']['description'])} The machine-readable document: "
            f"<a href='openapi.json'>openapi.json</a>.</p><ul>{contents}<li><a href='#schemas'>Schemas</a></li></ul>"
            f"{sections}<h2 id='schemas'>Schemas</h2>{schemas}</body></html>")


def _prose(text: str) -> str:
    """A docstring's text as HTML: escaped, with ``code`` spans shown as code."""
    return re.sub(r"``(.+?)``", r"<code>\1</code>", html.escape(text))


def _schema_link(schema: dict[str, Any]) -> str:
    name = html.escape(_ref_name(schema))
    return f"<a href='#{name}'><code>{name}</code></a>" if "$ref" in schema else f"<code>{name}</code>"


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else json.dumps(schema)
