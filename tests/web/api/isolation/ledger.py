"""Isolation cases of kimia/web/api/routes/ledger.py."""

from __future__ import annotations

from typing import Any

from . import Case, Probe


def _member(api: Any) -> int:
    return int(api.members[api.a.club_id])


def _today(api: Any) -> str:
    import datetime as dt
    return (dt.date(1970, 1, 1) + dt.timedelta(days=api.a.clock.local_day())).isoformat()


CASES: dict[str, Case] = {
    "GET /budgets": lambda api: Probe("/budgets"),
    "GET /settlement": lambda api: Probe("/settlement", query={"day": _today(api)}),
    "GET /settlement/summary": lambda api: Probe("/settlement/summary", query={"day": _today(api)}),
    "POST /members/{member_id}/adjustments": lambda api: Probe(f"/members/{_member(api)}/adjustments",
                                                               {"account_kind": "points", "delta": 10, "reason": "isolation"}),
    "POST /members/{member_id}/charges": lambda api: Probe(f"/members/{_member(api)}/charges",
                                                           {"kind": "gift_credit", "amount_rial": 10_000, "source": {"type": "cash"},
                                                            "reason": "isolation"}),
    "POST /charge-batches": lambda api: Probe("/charge-batches", {"org_id": 1, "reason": "isolation",
                                                                  "charges": [{"member_id": _member(api), "amount_rial": 10_000}]}),
    "PUT /members/{member_id}/credit-limit": lambda api: Probe(f"/members/{_member(api)}/credit-limit",
                                                               {"limit_rial": 1_000_000, "reason": "isolation"}),
    "POST /expiry-sweeps": lambda api: Probe("/expiry-sweeps", {"club_id": api.a.club_id}),
}
