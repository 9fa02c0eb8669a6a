"""The API against its own OpenAPI document (issue 15: schemathesis, bounded for CI).

Schemathesis reads the document the application serves (``/api/v1/openapi.json``, in-process
through WSGI) and sends every operation requests generated from its schemas, with real keys of
club A: a management key and an integration key, each on the operations that accept its kind
(an operation that accepts neither: A's member token or the platform key, whichever it takes,
else the management key, whose 403 must conform too).
Three runs: requests valid by the document (positive), requests invalid on purpose (negative:
each must be refused with a documented error), and requests with club A's real ids and the
body of the endpoint's isolation probe (tests/web/api/isolation/), mostly answered with success,
so the success answers are checked too (DELETEs last: they may revoke a key). Every answer must
hold: no server error, a documented status code, the documented content type, and a body
conforming to the documented schema. Every failing operation is listed, not only the first.

Bounded for CI: a few examples an operation, derandomized (the same requests every run), no
deadline, no shrinking, on SQLite only. ``KIMIA_LONG_CONTRACT=1`` runs the same with many more
examples on SQLite and PostgreSQL.

The document itself is checked too: it is an OpenAPI 3.1 document whose component schemas are
valid JSON Schema 2020-12, and every operation has a summary, a tag, its error answers, and an
``Idempotency-Key`` when it is a POST.
"""

from __future__ import annotations

import os
import re
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed; tests are not in mypy's files
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from kimia.web.api import load_routes
from kimia.web.api.endpoint import Endpoint
from kimia.web.api.openapi import ERRORS
from kimia.web.plugins import api_endpoints

from ..conftest import Api
from .isolation import Probe
from .test_isolation import all_cases, unlimited

LONG = os.environ.get("KIMIA_LONG_CONTRACT") == "1"
EXAMPLES = 100 if LONG else 6
#: Negative cases (invalid on purpose): each must be refused with a documented error, never a 5xx.
NEGATIVE_EXAMPLES = 50 if LONG else 3
#: Cases with club A's real ids and an accepted body (generated headers and the rest).
REAL_EXAMPLES = 20 if LONG else 3
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: The keys of club A schemathesis calls with, and the kind of key each is.
KEYS = {"management": "management", "integration": "integration"}
#: For an operation that takes neither: the first of these it takes.
FALLBACK_KINDS: tuple[str, ...] = ("member", "platform")


@pytest.fixture(params=["sqlite", "postgres"] if LONG else ["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """SQLite for CI (the contract is the web layer's); PostgreSQL too in the long run."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("pg_url")
    return url


def keys_for(api: Api, access: frozenset[str]) -> list[tuple[str, str]]:
    """(name, key) of club A's management and integration keys the operation accepts; for an
    operation that accepts neither, the member token or the platform key if it takes one (else
    the management key: its 403 must conform too)."""
    keys = {**api.keys_of(api.a), "platform": api.keys["platform"]}
    chosen = [(name, keys[name]) for name, kind in KEYS.items() if kind in access]
    fallback = [(name, keys[name]) for name in FALLBACK_KINDS if name in access][:1]
    return chosen or fallback or [("management", keys["management"])]


def run_operation(operation: Any, who: str, key: str, failures: list[str], mode: GenerationMode = GenerationMode.POSITIVE,
                  examples: int = EXAMPLES, **fixed: Any) -> None:
    """Send ``operation`` ``examples`` requests generated in ``mode`` with ``key`` (``fixed``: parts
    not generated: path_parameters, query, body); each failure is listed."""
    headers = {"Authorization": f"Bearer {key}"}

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode, **fixed))
    def send(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        send()
    except (Exception, FailureGroup) as error:  # a failing operation is listed with the others, not the end of the run
        what = "generated" if not fixed else "with club A's things"
        failures.append(f"{operation.label} ({mode.value}, {what}) with a {who} key:\n{error}")


def real_parts(ep: Endpoint, probe: Probe) -> dict[str, Any]:
    """The parts of the endpoint's isolation probe (club A's real ids, a body that is accepted)
    as fixed parts of a schemathesis case: its answers are the success answers, mostly."""
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(ep.path))
    match = re.fullmatch(pattern, probe.path)
    assert match is not None, f"{ep.key}: its probe's path {probe.path} is not of this endpoint"
    ints = {name for name, conv in ep.path_params if conv == "int"}
    fixed: dict[str, Any] = {}
    if ep.path_params:
        fixed["path_parameters"] = {k: int(v) if k in ints else v for k, v in match.groupdict().items()}
    if probe.query:
        fixed["query"] = dict(probe.query)
    if probe.body is not None:
        fixed["body"] = probe.body
    return fixed


def test_every_operation_answers_as_its_document_says(api: Api) -> None:
    unlimited(api)
    # kimia's endpoints and the plugins' (kimia's extras among them): the document serves both.
    plugin_routes = api_endpoints(api.app.extensions["kimia"].service.plugins)
    endpoints = {f"{ep.method} /api/v1{ep.path}": ep for ep in [*load_routes(), *plugin_routes]}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app)
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:
            failures.append(f"schemathesis could not read an operation: {result.err()}")
    assert len(operations) + len(failures) == len(endpoints)
    cases, _ = all_cases()
    probes = {label: cases[ep.key](api) for label, ep in endpoints.items() if ep.key in cases}
    for mode, examples in ((GenerationMode.POSITIVE, EXAMPLES), (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)):
        for operation in operations:
            for who, key in keys_for(api, endpoints[operation.label].access):
                run_operation(operation, who, key, failures, mode, examples)
    # Then with club A's real things (the isolation probes), DELETEs last: they may revoke a key.
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
        ep = endpoints[operation.label]
        if operation.label in probes and (ep.path_params or probes[operation.label].body is not None):
            for who, key in keys_for(api, ep.access):
                run_operation(operation, who, key, failures, examples=REAL_EXAMPLES, **real_parts(ep, probes[operation.label]))
    assert not failures, f"{len(failures)} operations answered against their document:\n\n" + "\n\n".join(failures)


def test_the_run_finds_an_answer_against_the_document(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: an answer that is not the documented one (a list of keys without its items)
    is found and listed."""
    from flask import Response

    from kimia.web.api import dispatch
    wrong = Response('{"next_cursor": null}', status=200, content_type=dispatch.JSON_TYPE)
    monkeypatch.setattr(dispatch, "_answer", lambda ep, result, lang: wrong)
    unlimited(api)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app)
    operation = schema["/api/v1/api-keys"]["GET"]
    failures: list[str] = []
    run_operation(operation, "management", api.keys_of(api.a)["management"], failures)
    assert len(failures) == 1 and "GET /api/v1/api-keys (positive, generated) with a management key" in failures[0] and "items" in failures[0], failures


def document(api: Api) -> dict[str, Any]:
    r = api.client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    data = r.get_json()
    assert isinstance(data, dict)
    return data


def test_the_document_is_openapi_3_1_with_valid_json_schemas(api: Api) -> None:
    doc = document(api)
    assert doc["openapi"].startswith("3.1.")
    # The OpenAPI 3.1 meta-schema schemathesis bundles (offline; openapi-spec-validator is not a dependency).
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message[:300]}" for e in OPENAPI_31_VALIDATOR.iter_errors(doc)]
    assert not errors, "\n".join(errors)
    validator = jsonschema.Draft202012Validator
    for schema in doc["components"]["schemas"].values():
        validator.check_schema(schema)
    refs = [value for value in _walk(doc) if isinstance(value, str) and value.startswith("#/")]
    names = set(doc["components"]["schemas"])
    dangling = sorted({ref for ref in refs if ref.rsplit("/", 1)[-1] not in names})
    assert not dangling, dangling


def _walk(data: Any) -> Any:
    """Every value in ``data``, depth first."""
    if isinstance(data, dict):
        for value in data.values():
            yield value
            yield from _walk(value)
    elif isinstance(data, list):
        for item in data:
            yield item
            yield from _walk(item)


def test_every_operation_is_documented_with_its_errors_and_idempotency_key(api: Api) -> None:
    doc = document(api)
    problems: list[str] = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            where = f"{method.upper()} {path}"
            if not op.get("summary", "").strip():
                problems.append(f"{where}: no summary (the first paragraph of its docstring)")
            if not op.get("tags"):
                problems.append(f"{where}: no tag")
            missing = sorted(set(ERRORS) - set(op["responses"]))
            if missing:
                problems.append(f"{where}: error answers not documented: {missing}")
            if not any(code.startswith("2") for code in op["responses"]):
                problems.append(f"{where}: no success answer")
            headers = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "header"}
            if method == "post" and not headers.get("Idempotency-Key", {}).get("required"):
                problems.append(f"{where}: a POST without a required Idempotency-Key")
    assert not problems, "\n".join(problems)
