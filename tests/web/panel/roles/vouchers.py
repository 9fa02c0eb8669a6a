"""Cases of kimia/web/panel/pages/vouchers.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.vouchers.vouchers": lambda p: Visit("/panel/vouchers", names_a=False),
    "panel.vouchers.template": lambda p: Visit(f"/panel/vouchers/{p.a.voucher_template_id}"),
    "panel.vouchers.create": lambda p: Visit("/panel/vouchers/create", form={"name_fa": "ووچر آزمون", "discount_rial": "10000",
                                                                             "price_points": "10", "reason": "walker"}, names_a=False),
}
