"""Isolation: every endpoint of the API, walked with every kind of key (issue 15, Keys and isolation).

For every endpoint in the registry the walker takes its case from ``tests/web/api/isolation/``
(every module there, their ``CASES`` merged) and sends the case's probe, which names club A's
things:

1. with club B's keys of every kind (management, integration, merchant-bound, member token) and
   with the platform key: each must be refused (401, 403 or 404; a POST may also be refused 409 or
   422, as long as nothing was written) and nothing may change. A request that names nothing of
   A's is B's own business: one without path parameters that is a GET (a list or the caller's own
   thing, whatever its filters) or whose body and query hold none of A's ids (``PUT /tiers``: B's
   own tiers). B may be answered (the answer must name none of A's things: no field ``club_id``,
   ``member_id``, ``merchant_id``, ``public_id``, ``op_id``, ... holding one of A's ids) or
   refused (changing nothing); either way none of A's rows may change (rows of A's clubs in every
   table with a ``club_id``, and A's balances);
2. with club A's keys of kinds the endpoint does not accept: 403, nothing changed;
3. with club A's keys of kinds it accepts (or the probe's ``a_allowed``): not refused as not theirs
   (401, 403, 404) and no server error. Kinds the endpoint accepts but the probe does not allow
   (a member token probing another member) must be refused as in 1. A probe whose ``a_allowed`` is
   empty is not sent with A's keys of accepted kinds at all (revoking A's own key would break the
   probes after it). A's probes go last, DELETEs last of all, so a destructive probe cannot
   hide a leak of the probes after it.

The platform key: it administers every club, so an endpoint that accepts platform keys may act
on A's things with it by design (revoke any key, make keys for any club). For such an endpoint
the platform key is not sent in step 1; it is sent in step 3 only when the probe's ``a_allowed``
names ``"platform"``. An endpoint that does not accept platform keys must refuse it (step 1).

"Nothing changed" is a fingerprint of the database: the row count of every table of
kimia/store/models.py and the sum of all balances (of their absolute values: a double-entry ledger
sums to zero whatever moves). The one exception is ``api_requests``, the Idempotency-Key record:
a refused POST keeps its refusal there, under the caller's own key, so that a retry gets the same
refusal; only its kept answers that are not refusals (status below 400) count. Counts do not see
an UPDATE: a refusal that changed a row in place is caught only by its status.

The world is built once per database and every endpoint is walked in one test, which collects
every failure and lists them all at the end.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kimia.store.models import Base
from kimia.web.api import load_routes
from kimia.web.api.endpoint import Endpoint
from kimia.web.api.limits import RateLimiter

from ..conftest import KINDS, Api
from . import isolation
from .isolation import Case, Probe

#: The key kind each of the fixture's keys is (a merchant-bound key is an integration key).
KIND_OF = {"management": "management", "integration": "integration", "merchant": "integration", "member": "member"}
REFUSED = frozenset({401, 403, 404})
#: A POST naming another club's things may also be refused by the rules it breaks (nothing written).
REFUSED_POST = REFUSED | {409, 422}
IDEM_TABLE = "api_requests"


def all_cases() -> tuple[dict[str, Case], list[str]]:
    """Every module's CASES merged, and the keys named by more than one module."""
    cases: dict[str, Case] = {}
    twice: list[str] = []
    for info in sorted(pkgutil.iter_modules(isolation.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{isolation.__name__}.{info.name}")
        for key, case in getattr(module, "CASES", {}).items():
            if key in cases:
                twice.append(f"{key}: a case in more than one module (the second in {info.name})")
            cases[key] = case
    return cases, twice


def fingerprint_sql() -> str:
    """One query giving the row count of every table and the sum of the balances."""
    parts = []
    for table in Base.metadata.sorted_tables:
        where = " WHERE status = 0 OR status < 400" if table.name == IDEM_TABLE else ""
        parts.append(f"(SELECT COUNT(*) FROM {table.name}{where})")
    parts.append("(SELECT COALESCE(SUM(ABS(balance)), 0) FROM balances)")
    return "SELECT " + ", ".join(parts)


def markers(api: Api) -> dict[str, set[Any]]:
    """Club A's ids, by the field names an answer would carry them under."""
    a = api.a
    clubs = (a.club_id, a.sub_club_id)
    found: dict[str, set[Any]] = {
        "club_id": set(clubs), "merchant_id": set(a.merchants.values()), "branch_id": set(a.branches.values()),
        "terminal_id": set(a.terminals.values()), "lottery_id": {a.lottery_id}, "voucher_template_id": {a.voucher_template_id},
        "merchant_group_id": {a.merchant_group_id}, "member_group_id": {a.member_group_id}}
    marks = ", ".join("?" * len(clubs))
    with api.service.reading() as tx:
        for name, sql in (("member_id", "SELECT id FROM members"), ("op_id", "SELECT id FROM operations"),
                          ("public_id", "SELECT public_id FROM api_keys")):
            found[name] = {row[0] for row in tx.all(f"{sql} WHERE club_id IN ({marks})", clubs)}
    return found


def leaked(data: Any, marks: dict[str, set[Any]]) -> list[str]:
    """The ``field=value`` pairs anywhere in ``data`` that hold one of A's ids (a member named as
    the terminal names one, ``{"kind": "id", "value": ...}``, too)."""
    found: list[str] = []
    if isinstance(data, dict):
        if data.get("kind") == "id" and _holds(marks, "member_id", data.get("value")):
            found.append(f"member={data.get('value')}")
        for name, value in data.items():
            if _holds(marks, name, value):
                found.append(f"{name}={value}")
            found += leaked(value, marks)
    elif isinstance(data, list):
        for item in data:
            found += leaked(item, marks)
    return found


def _holds(marks: dict[str, set[Any]], name: str, value: Any) -> bool:
    """Whether ``value`` (or its text: a query's values are text) is one of A's ``name``s."""
    if name not in marks or isinstance(value, (dict, list, bool)) or value is None:
        return False
    return value in marks[name] or str(value) in {str(m) for m in marks[name]}


def a_fingerprint_sql(clubs: tuple[int, ...]) -> tuple[str, list[str]]:
    """One query counting club A's rows (of every table with a ``club_id``) and summing A's
    balances, and the names of its columns."""
    marks = ", ".join(str(int(c)) for c in clubs)
    tables = [t.name for t in Base.metadata.sorted_tables if "club_id" in t.c]
    parts = [f"(SELECT COUNT(*) FROM {name} WHERE club_id IN ({marks}))" for name in tables]
    parts.append(f"(SELECT COALESCE(SUM(ABS(balance)), 0) FROM balances WHERE club_id IN ({marks}))")
    return "SELECT " + ", ".join(parts), [f"club A's {name}" for name in tables] + ["club A's SUM(ABS(balance))"]


@dataclass
class Walk:
    api: Api
    sql: str
    failures: list[str]
    markers: dict[str, set[Any]] = field(default_factory=dict)
    a_sql: tuple[str, list[str]] = ("", [])

    def fingerprint(self, sql: str | None = None) -> tuple[int, ...]:
        with self.api.service.reading() as tx:
            return tuple(int(v) for v in tx.one(sql or self.sql))

    def changes(self, before: tuple[int, ...], after: tuple[int, ...], names: list[str] | None = None) -> str:
        names = names or [t.name for t in Base.metadata.sorted_tables] + ["SUM(ABS(balances.balance))"]
        return ", ".join(f"{n} {b} -> {a}" for n, b, a in zip(names, before, after) if b != a)

    def send(self, ep: Endpoint, probe: Probe, key: str) -> Any:
        headers = {"Authorization": f"Bearer {key}", "Accept-Language": "en"}
        if ep.method == "POST":
            headers["Idempotency-Key"] = self.api.idem()
        return self.api.client.open("/api/v1" + probe.path, method=ep.method, headers=headers, query_string=probe.query,
                                    json=probe.body if ep.method in ("POST", "PUT") else None)

    def other_club(self, ep: Endpoint, probe: Probe, key: str, who: str, allowed: frozenset[int]) -> None:
        """Club B's ``key``: refused when the probe names A's things; a request naming nothing of
        A's (no path parameters; a GET's filters, or a body without A's ids) is B's own business."""
        if not ep.path_params and (ep.method == "GET" or not leaked([probe.body, probe.query], self.markers)):
            self.own_business(ep, probe, key, who, allowed)
        else:
            self.refused(ep, probe, key, who, allowed)

    def refused(self, ep: Endpoint, probe: Probe, key: str, who: str, allowed: frozenset[int]) -> None:
        """``who`` must be refused with one of ``allowed`` and change nothing."""
        before = self.fingerprint()
        r = self.send(ep, probe, key)
        after = self.fingerprint()
        if r.status_code not in allowed:
            self.failures.append(f"{ep.key} with {who}: {r.status_code} {_brief(r)} (expected one of {sorted(allowed)})")
        if after != before:
            self.failures.append(f"{ep.key} with {who}: changed {self.changes(before, after)}")

    def own_business(self, ep: Endpoint, probe: Probe, key: str, who: str, allowed: frozenset[int]) -> None:
        """``who`` acts on its own club: answered (naming none of A's things) or refused (changing
        nothing); either way none of A's rows or balances change."""
        before, before_a = self.fingerprint(), self.fingerprint(self.a_sql[0])
        r = self.send(ep, probe, key)
        after, after_a = self.fingerprint(), self.fingerprint(self.a_sql[0])
        if r.status_code < 300:
            leaks = leaked(r.get_json(silent=True), self.markers)
            if leaks:
                self.failures.append(f"{ep.key} with {who}: answered club A's {', '.join(leaks)}")
        elif r.status_code not in allowed:
            self.failures.append(f"{ep.key} with {who}: {r.status_code} {_brief(r)} (expected a refusal in {sorted(allowed)} or 2xx)")
        elif after != before:
            self.failures.append(f"{ep.key} with {who}: refused but changed {self.changes(before, after)}")
        if after_a != before_a:
            self.failures.append(f"{ep.key} with {who}: changed {self.changes(before_a, after_a, self.a_sql[1])}")

    def accepted(self, ep: Endpoint, probe: Probe, key: str, who: str) -> None:
        r = self.send(ep, probe, key)
        if r.status_code in REFUSED or r.status_code >= 500:
            self.failures.append(f"{ep.key} with {who}: {r.status_code} {_brief(r)} (expected it to be let through)")


def _brief(response: Any) -> str:
    data = response.get_json(silent=True)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("code"))
    return str(response.get_data(as_text=True))[:120]


def a_allowed(ep: Endpoint, probe: Probe) -> frozenset[str]:
    """The kinds (fixture names, and ``platform``) that may do the probe with club A's keys."""
    if probe.a_allowed is not None:
        return probe.a_allowed
    return frozenset(k for k in KINDS if KIND_OF[k] in ep.access)


def probes(api: Api, endpoints: list[Endpoint], failures: list[str]) -> list[tuple[Endpoint, Probe]]:
    """Each endpoint with its probe; endpoints without a case and cases naming no endpoint fail."""
    cases, twice = all_cases()
    failures.extend(twice)
    keys = {ep.key for ep in endpoints}
    failures.extend(f"{k}: no isolation case (add one to tests/web/api/isolation/)" for k in sorted(keys - cases.keys()))
    failures.extend(f"{k}: an isolation case naming no endpoint" for k in sorted(cases.keys() - keys))
    built = []
    for ep in endpoints:
        if ep.key in cases:
            try:
                built.append((ep, cases[ep.key](api)))
            except Exception as error:  # a broken case is a failure to list, not the end of the walk
                failures.append(f"{ep.key}: its case raised {error!r}")
    return built


def step_other_club(walk: Walk, ep: Endpoint, probe: Probe) -> None:
    allowed = REFUSED_POST if ep.method == "POST" else REFUSED
    for kind, key in walk.api.keys_of(walk.api.b).items():
        walk.other_club(ep, probe, key, f"club B's {kind} key", allowed)
    if "platform" not in ep.access:
        walk.refused(ep, probe, walk.api.keys["platform"], "the platform key", allowed)


def step_own_club_refused(walk: Walk, ep: Endpoint, probe: Probe) -> None:
    allowed_kinds = a_allowed(ep, probe)
    for kind, key in walk.api.keys_of(walk.api.a).items():
        if KIND_OF[kind] not in ep.access:
            walk.refused(ep, probe, key, f"club A's {kind} key (a kind it does not accept)", frozenset({403}))
        elif allowed_kinds and kind not in allowed_kinds:
            walk.refused(ep, probe, key, f"club A's {kind} key (not allowed by the probe)",
                         REFUSED_POST if ep.method == "POST" else REFUSED)


def step_own_club_accepted(walk: Walk, ep: Endpoint, probe: Probe) -> None:
    allowed_kinds = a_allowed(ep, probe)
    for kind, key in walk.api.keys_of(walk.api.a).items():
        if kind in allowed_kinds and KIND_OF[kind] in ep.access:
            walk.accepted(ep, probe, key, f"club A's {kind} key")
    if "platform" in allowed_kinds:
        walk.accepted(ep, probe, walk.api.keys["platform"], "the platform key")


def unlimited(api: Api) -> None:
    """The walk sends hundreds of requests a key: a limiter whose clock jumps a minute each time
    never refuses one (the rate limits have their own test in test_foundation.py)."""
    minutes: Callable[[], float] = itertools.count(0.0, 60.0).__next__
    api.app.extensions["kimia"].limiter = RateLimiter(clock=minutes)


def test_no_endpoint_lets_a_club_read_or_change_another_clubs_things(api: Api) -> None:
    unlimited(api)
    failures: list[str] = []
    walk = Walk(api, fingerprint_sql(), failures, markers(api), a_fingerprint_sql((api.a.club_id, api.a.sub_club_id)))
    planned = probes(api, list(load_routes()), failures)
    for ep, probe in planned:
        step_other_club(walk, ep, probe)
    for ep, probe in planned:
        step_own_club_refused(walk, ep, probe)
    for ep, probe in sorted(planned, key=lambda p: p[0].method == "DELETE"):  # stable: DELETEs last, in order
        step_own_club_accepted(walk, ep, probe)
    assert not failures, f"{len(failures)} isolation failures:\n" + "\n".join(failures)


def test_the_walker_fails_an_endpoint_without_a_case_and_a_case_without_an_endpoint(api: Api) -> None:
    failures: list[str] = []
    endpoints = list(load_routes())
    ghost = Endpoint("GET", "/ghosts/<int:ghost_id>", "ghosts", frozenset({"management"}), lambda ctx: None)
    probes(api, [ep for ep in endpoints if ep.key != "POST /purchases"] + [ghost], failures)
    assert "GET /ghosts/{ghost_id}: no isolation case (add one to tests/web/api/isolation/)" in failures
    assert "POST /purchases: an isolation case naming no endpoint" in failures


def test_the_fingerprint_sees_a_row_and_a_balance_change(api: Api) -> None:
    walk = Walk(api, fingerprint_sql(), [])
    before = walk.fingerprint()
    r = api.post("/purchases", api.keys_of(api.a)["management"], {"merchant_id": api.a.merchants["cafe"], "amount_rial": 500_000,
                                                                   "member": {"kind": "id", "value": str(api.members[api.a.club_id])}})
    assert r.status_code == 201, r.json
    changed = walk.changes(before, walk.fingerprint())
    assert "operations" in changed and "SUM(ABS(balances.balance))" in changed, changed


def test_a_list_naming_one_of_club_as_things_is_a_leak(api: Api) -> None:
    own = api.get("/api-keys", api.keys_of(api.a)["management"]).json
    assert own["items"] and leaked(own, markers(api)), own  # what B's list would be failed for
    assert not leaked(api.get("/api-keys", api.keys_of(api.b)["management"]).json, markers(api))


def test_a_request_naming_a_member_of_club_a_is_not_club_bs_own_business(api: Api) -> None:
    marks = markers(api)
    a_member, b_member = api.members[api.a.club_id], api.members[api.b.club_id]
    assert leaked({"member": {"kind": "id", "value": str(a_member)}}, marks) == [f"member={a_member}"]
    assert leaked([None, {"member_id": str(a_member)}], marks) == [f"member_id={a_member}"]  # a query's text
    assert not leaked({"member": {"kind": "id", "value": str(b_member)}, "member_id": b_member}, marks)


def test_club_as_fingerprint_sees_only_club_as_rows(api: Api) -> None:
    walk = Walk(api, fingerprint_sql(), [], markers(api), a_fingerprint_sql((api.a.club_id, api.a.sub_club_id)))
    before = walk.fingerprint(walk.a_sql[0])
    b_member = {"kind": "id", "value": str(api.members[api.b.club_id])}
    body = {"merchant_id": api.b.merchants["cafe"], "amount_rial": 500_000, "member": b_member}
    assert api.post("/purchases", api.keys_of(api.b)["management"], body).status_code == 201
    assert walk.fingerprint(walk.a_sql[0]) == before
    body = {**body, "merchant_id": api.a.merchants["cafe"], "member": {"kind": "id", "value": str(api.members[api.a.club_id])}}
    assert api.post("/purchases", api.keys_of(api.a)["management"], body).status_code == 201
    assert "club A's operations" in walk.changes(before, walk.fingerprint(walk.a_sql[0]), walk.a_sql[1])
