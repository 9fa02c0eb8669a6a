"""Isolation of the cash extra's API routes, walked as kimia's own endpoints are walked
(tests/web/api/test_isolation.py, whose steps this reuses): every route is sent a probe naming club
A's things with club B's keys of every kind and the platform key (refused, or answered with nothing
of A's, and nothing changed), with A's keys of kinds it does not accept (403), and with A's keys of
the kinds it accepts (let through). The fingerprint counts the cash tables too."""

from __future__ import annotations

from typing import Any

from kimia.extras.cash import book
from kimia.plugins.types import Caller
from kimia.web.plugins import api_endpoints
from web.api.isolation import Case, Probe
from web.api.test_isolation import (Walk, a_fingerprint_sql, fingerprint_sql, markers, step_other_club, step_own_club_accepted,
                                    step_own_club_refused, unlimited)
from web.conftest import Api

#: Rows of the cash tables, and what an UPDATE there changes (voids, disabled categories).
CASH = ("(SELECT COUNT(*) FROM cash_entries)", "(SELECT COUNT(*) FROM cash_categories)",
        "(SELECT COUNT(*) FROM cash_entries WHERE voided_at IS NOT NULL)", "(SELECT COUNT(*) FROM cash_categories WHERE active = 0)")
MANAGERS = frozenset({"management", "merchant"})


def _cafe(api: Api) -> int:
    return int(api.a.merchants["cafe"])


def _entry(api: Api) -> int:
    services = api.service.plugin_services
    m = services.merchant(_cafe(api))
    return book.record(services, m, book.NewEntry("expense", 5_000, category="other"), source="api", idem_key="iso-entry",
                       actor="test").id


def _category(api: Api) -> int:
    services = api.service.plugin_services
    m = services.merchant(_cafe(api))
    new = book.NewCategory("expense", "iso", "ایزو", "Iso")
    caller = Caller("integration", m.root_club_id, "test", merchant_id=m.id)
    return services.write(lambda db: book.create_category(db, club_id=m.root_club_id, merchant_id=m.id, new=new,
                                                          idem_key="iso-category", actor=caller.actor, now=services.now())).id


CASES: dict[str, Case] = {
    "GET /cash/categories": lambda api: Probe("/cash/categories", query={"merchant_id": _cafe(api)}),
    "POST /cash/categories": lambda api: Probe("/cash/categories", {"kind": "expense", "code": "walk", "name_fa": "پیاده",
                                                                    "merchant_id": _cafe(api)}, a_allowed=MANAGERS),
    "POST /cash/categories/{category_id}/disable": lambda api: Probe(f"/cash/categories/{_category(api)}/disable", {},
                                                                     a_allowed=MANAGERS),
    "POST /cash/categories/{category_id}/enable": lambda api: Probe(f"/cash/categories/{_category(api)}/enable", {},
                                                                    a_allowed=MANAGERS),
    "POST /cash/expenses": lambda api: Probe("/cash/expenses", {"amount_rial": 1_000, "category": "rent", "merchant_id": _cafe(api)}),
    "POST /cash/receipts": lambda api: Probe("/cash/receipts", {"amount_rial": 1_000, "merchant_id": _cafe(api)}),
    "GET /cash/entries": lambda api: Probe("/cash/entries", query={"merchant_id": _cafe(api)}),
    "POST /cash/entries/{entry_id}/void": lambda api: Probe(f"/cash/entries/{_entry(api)}/void", {"reason": "walk"}),
    "GET /cash/income": lambda api: Probe("/cash/income", query={"merchant_id": _cafe(api)}),
}


def test_no_cash_route_lets_a_club_read_or_change_another_clubs_things(api: Api) -> None:
    unlimited(api)
    book.ensure_defaults(api.service.plugin_services, api.a.club_id)
    book.ensure_defaults(api.service.plugin_services, api.b.club_id)
    failures: list[str] = []
    a_sql, a_names = a_fingerprint_sql((api.a.club_id, api.a.sub_club_id))
    clubs = f"{int(api.a.club_id)}, {int(api.a.sub_club_id)}"
    a_cash = [f"(SELECT COUNT(*) FROM cash_entries WHERE club_id IN ({clubs}))",
              f"(SELECT COUNT(*) FROM cash_categories WHERE club_id IN ({clubs}))",
              f"(SELECT COUNT(*) FROM cash_entries WHERE voided_at IS NOT NULL AND club_id IN ({clubs}))",
              f"(SELECT COUNT(*) FROM cash_categories WHERE active = 0 AND club_id IN ({clubs}))"]
    walk = Walk(api, fingerprint_sql() + ", " + ", ".join(CASH), failures, markers(api),
                (a_sql + ", " + ", ".join(a_cash), [*a_names, *(f"club A's {c}" for c in CASH)]))
    endpoints = [ep for ep in api_endpoints(api.service.plugins) if ep.tag == "cash"]
    assert {ep.key for ep in endpoints} == set(CASES), "every cash route needs a case, and every case a route"
    planned: list[tuple[Any, Probe]] = [(ep, CASES[ep.key](api)) for ep in endpoints]
    for ep, probe in planned:
        step_other_club(walk, ep, probe)
    for ep, probe in planned:
        step_own_club_refused(walk, ep, probe)
    for ep, probe in planned:
        step_own_club_accepted(walk, ep, probe)
    assert not failures, f"{len(failures)} isolation failures:\n" + "\n".join(failures)
    # The walk did reach A's things with A's keys: an entry was voided, expenses recorded.
    with api.service.reading() as tx:
        assert tx.one("SELECT COUNT(*) FROM cash_entries WHERE voided_at IS NOT NULL")[0] == 1
        assert tx.one("SELECT COUNT(*) FROM cash_entries WHERE merchant_id = ? AND source = 'api'", (_cafe(api),))[0] >= 3
