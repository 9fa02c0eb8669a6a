"""Isolation cases of kimia/web/api/routes/vouchers.py."""

from __future__ import annotations

from . import Case, Probe

CASES: dict[str, Case] = {
    "GET /voucher-offers": lambda api: Probe("/voucher-offers"),
    "GET /members/{member_id}/vouchers": lambda api: Probe(f"/members/{api.members[api.a.club_id]}/vouchers"),
    "POST /members/{member_id}/vouchers": lambda api: Probe(f"/members/{api.members[api.a.club_id]}/vouchers",
                                                            {"template_id": api.a.voucher_template_id}),
}
