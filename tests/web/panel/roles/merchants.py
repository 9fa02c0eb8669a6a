"""Cases of kimia/web/panel/pages/merchants.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.merchants.merchants": lambda p: Visit("/panel/merchants", names_a=False),
    "panel.merchants.create": lambda p: Visit("/panel/merchants", {"name_fa": "پذیرندهٔ گردش"}, names_a=False),
    "panel.merchants.merchant": lambda p: Visit(f"/panel/merchants/{p.a.merchants['cafe']}"),
    "panel.merchants.add_branch": lambda p: Visit(f"/panel/merchants/{p.a.merchants['cafe']}/branches", {"name_fa": "شعبهٔ گردش"}),
    "panel.merchants.register_terminal": lambda p: Visit(
        f"/panel/merchants/{p.a.merchants['cafe']}/terminals",
        {"terminal_code": "WALK0001", "merchant_code": "WALK00000000001", "kind": "pos", "key": "generate"}),
    "panel.merchants.set_mac_key": lambda p: Visit(f"/panel/terminals/{p.a.terminals['cafe']}/mac-key", {"key": "generate"}),
}
