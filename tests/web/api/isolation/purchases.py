"""Isolation cases of kimia/web/api/routes/purchases.py."""

from __future__ import annotations

from . import Case, Probe

CASES: dict[str, Case] = {
    "POST /purchases": lambda api: Probe("/purchases", {"merchant_id": api.a.merchants["cafe"], "amount_rial": 500_000,
                                                        "member": {"kind": "id", "value": str(api.members[api.a.club_id])}}),
}
