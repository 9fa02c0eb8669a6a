"""Isolation cases of kimia/web/api/routes/payments.py. The holds and purchases they name are club
A's, made at A's cafe (the merchant A's merchant-bound key acts as) when the probe is built."""

from __future__ import annotations

from typing import Any

from . import Case, Probe


def _member(api: Any) -> dict[str, str]:
    return {"kind": "id", "value": str(api.members[api.a.club_id])}


def _purchase_body(api: Any) -> dict[str, Any]:
    return {"merchant_id": api.a.merchants["cafe"], "amount_rial": 500_000, "member": _member(api)}


def _purchase(api: Any) -> int:
    """A purchase of A's first member at A's cafe (which earns them points)."""
    return int(api.a.buy(api.members[api.a.club_id], 2_000_000, idem_key=api.a.key("iso-buy"))["op_id"])


def _hold(api: Any) -> int:
    held = api.service.hold(api.a.request(api.members[api.a.club_id], 500_000, idem_key=api.a.key("iso-hold")))
    return int(held["hold_id"])


def _convert(api: Any) -> Probe:
    _purchase(api)
    return Probe(f"/members/{api.members[api.a.club_id]}/conversions", {"points": 10})


CASES: dict[str, Case] = {
    "POST /purchases/quote": lambda api: Probe("/purchases/quote", _purchase_body(api)),
    "POST /holds": lambda api: Probe("/holds", _purchase_body(api)),
    "POST /holds/{hold_id}/complete": lambda api: Probe(f"/holds/{_hold(api)}/complete", {"merchant_id": api.a.merchants["cafe"]}),
    "POST /holds/{hold_id}/cancel": lambda api: Probe(f"/holds/{_hold(api)}/cancel", {"merchant_id": api.a.merchants["cafe"]}),
    "POST /refunds": lambda api: Probe("/refunds", {"merchant_id": api.a.merchants["cafe"], "op_id": _purchase(api), "amount_rial": 100_000}),
    "POST /reversals": lambda api: Probe("/reversals", {"merchant_id": api.a.merchants["cafe"], "idempotency_key": "never-sent"}),
    "POST /members/{member_id}/conversions": _convert,
    "POST /members/{member_id}/codes": lambda api: Probe(f"/members/{api.members[api.a.club_id]}/codes"),
}
