"""Isolation cases of kimia/web/api/routes/vouchers_admin.py."""

from __future__ import annotations

from . import Case, Probe

CASES: dict[str, Case] = {
    # A template at club A's merchant: another club's key is refused (foreign_reference) before anything is written.
    "POST /voucher-templates": lambda api: Probe("/voucher-templates", {"name_fa": "ووچر", "discount_rial": 10_000,
                                                                        "merchants": [api.a.merchants["cafe"]]}),
    "GET /voucher-templates": lambda api: Probe("/voucher-templates"),
    "GET /voucher-templates/{template_id}": lambda api: Probe(f"/voucher-templates/{api.a.voucher_template_id}"),
}
