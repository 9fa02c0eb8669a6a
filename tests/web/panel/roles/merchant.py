"""Cases of kimia/web/panel/pages/merchant.py (merchant staff only; each sees their own merchant,
which tests/web/panel/test_merchant.py checks)."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.merchant.home": lambda p: Visit("/panel/merchant", names_a=False),
    "panel.merchant.terminals": lambda p: Visit("/panel/merchant/terminals", names_a=False),
    "panel.merchant.operations": lambda p: Visit("/panel/merchant/operations", names_a=False),
    "panel.merchant.liability": lambda p: Visit("/panel/merchant/liability", names_a=False),
    "panel.merchant.settlement": lambda p: Visit("/panel/merchant/settlement", names_a=False),
    "panel.merchant.settlement_csv": lambda p: Visit("/panel/merchant/settlement.csv", names_a=False),
}
