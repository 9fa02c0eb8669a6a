"""Serving one endpoint: the key, the language, the rate limit, the body and query, the
Idempotency-Key, the handler, the answer. Every route goes through :func:`serve`, so these rules
are written once (docs/api.md, Conventions)."""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from flask import Response, current_app, request
from pydantic import BaseModel, ValidationError

from kimia.errors import KimiaError, reject
from kimia.service.apikeys import matches, parse_token
from kimia.web.api import idempotency
from kimia.web.api.endpoint import Ctx, Endpoint, Principal, Raw
from kimia.web.api.limits import DEFAULT_RATE_PER_MIN, retry_after_s
from kimia.web.api.models import MAX_INT
from kimia.web.api.problems import error_json, status_of
from kimia.web.api.state import ApiState

log = logging.getLogger("kimia.web")
#: An Idempotency-Key: 1 to 128 printable ASCII characters.
MAX_IDEM_KEY = 128
JSON_TYPE = "application/json; charset=utf-8"


def language() -> str:
    """``fa`` unless the request prefers English (``Accept-Language: en``)."""
    header = request.headers.get("Accept-Language")
    if not header:
        return "fa"
    if header in ("fa", "en"):  # the usual exact forms, without parsing a list of preferences
        return header
    best = request.accept_languages.best_match(["fa", "en"], default="fa")
    return best or "fa"


def error_response(error: KimiaError, lang: str) -> Response:
    response = Response(error_json(error, lang), status=status_of(error.code), content_type=JSON_TYPE)
    response.headers["Content-Language"] = lang
    return response


def serve(ep: Endpoint, params: dict[str, Any]) -> Response:
    state: ApiState = current_app.extensions["kimia"]
    lang = language()
    try:
        principal = authenticate(state)
        if principal.kind not in ep.access:
            raise reject("forbidden", action=f"{ep.method} {ep.path}")
        wait = state.limiter.take(principal.key_id, principal.rate_per_min)
        if wait:
            response = error_response(reject("rate_limited", retry_after_s=retry_after_s(wait)), lang)
            response.headers["Retry-After"] = str(retry_after_s(wait))
            return response
        _check_path_ids(ep, params)
        # The caller's root club from the state's cache: most handlers scope by it, and reading it
        # here saves each request a read transaction of its own.
        root = state.root_club(principal.club_id) if principal.club_id is not None else None
        ctx = Ctx(state.service, principal, lang, _root=root)
        if ep.method == "POST":
            return _post(ep, ctx, params)
        return _answer(ep, _call(ep, ctx, params, _body(ep)), lang)
    except KimiaError as error:
        return error_response(error, lang)


def authenticate(state: ApiState) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise reject("unauthenticated")
    parsed = parse_token(token.strip())
    row = state.key(parsed[0]) if parsed else None
    if parsed is None or row is None or not matches(row, parsed[1]) or not row.usable(state.service.clock()):
        raise reject("api_key_invalid")
    state.used(row)
    rate = row.rate_per_min if row.rate_per_min is not None else DEFAULT_RATE_PER_MIN[row.kind]
    return Principal(row.id, row.public_id, row.kind, row.club_id, row.merchant_id, row.branch_id, row.member_id, rate)


def _check_path_ids(ep: Endpoint, params: dict[str, Any]) -> None:
    """An id in the path no database can hold (0, or past BIGINT) names nothing: not found."""
    for name, converter in ep.path_params:
        if converter == "int" and not 1 <= int(params[name]) <= MAX_INT:
            raise reject("not_found", what=name.removesuffix("_id"), path=name)


def _post(ep: Endpoint, ctx: Ctx, params: dict[str, Any]) -> Response:
    key = request.headers.get("Idempotency-Key", "")
    if not key or len(key) > MAX_IDEM_KEY or not key.isascii() or not key.isprintable():
        raise reject("missing_idempotency_key", path="Idempotency-Key")
    raw = _json()
    if ep.idempotency == "service":
        ctx.idem_key = f"api:{ctx.principal.key_id}:{key}"
        return _answer(ep, _call(ep, ctx, params, _parse(ep.body, raw)), ctx.lang)
    digest = idempotency.request_hash(ep.method, request.path, raw)
    stored = idempotency.claim(ctx.svc, ctx.principal.key_id, key, digest)
    if stored is not None:
        response = Response(stored.body, status=stored.status, content_type=JSON_TYPE)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        response = _answer(ep, _call(ep, ctx, params, _parse(ep.body, raw)), ctx.lang)
    except KimiaError as error:
        response = error_response(error, ctx.lang)
        if response.status_code >= 500:
            idempotency.release(ctx.svc, ctx.principal.key_id, key)
            return response
    except BaseException:
        idempotency.release(ctx.svc, ctx.principal.key_id, key)
        raise
    idempotency.finish(ctx.svc, ctx.principal.key_id, key, response.status_code, _kept(ep, response))
    return response


def _kept(ep: Endpoint, response: Response) -> str:
    """What is kept for a replay: the answer without its secrets (shown once)."""
    text = response.get_data(as_text=True)
    if not ep.secret_fields or response.status_code >= 300:
        return text
    data = json.loads(text)
    for name in ep.secret_fields:
        if name in data:
            data[name] = None
    return json.dumps(data, ensure_ascii=False)


def _call(ep: Endpoint, ctx: Ctx, params: dict[str, Any], body: BaseModel | None) -> BaseModel | Raw | None:
    kwargs = dict(params)
    if ep.body is not None:
        kwargs["body"] = body
    if ep.query is not None:
        kwargs["query"] = _parse(ep.query, _query())
    result: BaseModel | Raw | None = ep.handler(ctx, **kwargs)
    return result


def _answer(ep: Endpoint, result: BaseModel | Raw | None, lang: str) -> Response:
    if result is None:
        response = Response(status=204)
    elif isinstance(result, Raw):
        media = getattr(result, "media_type", None) or ep.raw  # a plugin's file names its own
        response = Response(result.text, status=ep.status, content_type=f"{media}; charset=utf-8")
        if result.filename:
            response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    else:
        response = Response(result.model_dump_json(), status=ep.status, content_type=JSON_TYPE)
        if getattr(result, "replayed", False):
            response.headers["Idempotent-Replayed"] = "true"
    response.headers["Content-Language"] = lang
    return response


def _body(ep: Endpoint) -> BaseModel | None:
    return _parse(ep.body, _json()) if ep.body is not None else None


def _json() -> Any:
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise reject("invalid_json", detail=str(error)[:200]) from None
    except RecursionError:
        raise reject("invalid_json", detail="nested too deeply") from None


def _query() -> dict[str, Any]:
    return {k: v for k, v in request.args.items()}


def _parse(model: type[BaseModel] | None, data: Any) -> BaseModel | None:
    if model is None:
        return None
    return parse_model(model, data)


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any) -> M:
    """``data`` as ``model``; the first problem as a catalogue error at its dotted path
    (``field_required``, ``field_invalid``). The panel reads its forms with this too."""
    if data is None:
        data = {}
    try:
        parsed = model.model_validate(data)
    except ValidationError as error:
        raise _first_problem(error) from None
    too_large = _past_max_int(parsed.model_dump(), "")
    if too_large is not None:
        raise reject("field_invalid", path=too_large, detail=f"at most {MAX_INT}")
    return parsed


def _past_max_int(data: Any, path: str) -> str | None:
    """The dotted path of the first integer in ``data`` the databases cannot hold, or None."""
    if isinstance(data, bool):
        return None
    if isinstance(data, int):
        return (path or None) if abs(data) > MAX_INT else None  # path None: the body itself
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = _past_max_int(value, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _first_problem(error: ValidationError) -> KimiaError:
    """The first of pydantic's findings as a catalogue error at its dotted path."""
    first = error.errors(include_url=False)[0]
    path = ".".join(str(p) for p in first["loc"]) or None
    if first["type"] == "missing":
        return reject("field_required", path=path)
    return reject("field_invalid", path=path, detail=str(first["msg"])[:200])
