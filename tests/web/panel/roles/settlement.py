"""Cases of kimia/web/panel/pages/settlement.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.settlement.settlement": lambda p: Visit("/panel/settlement", names_a=False),
    "panel.settlement.csv_file": lambda p: Visit("/panel/settlement/csv", names_a=False),
    "panel.settlement.platform": lambda p: Visit("/panel/settlement/platform", names_a=False),
}
