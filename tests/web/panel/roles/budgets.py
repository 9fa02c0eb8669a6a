"""Cases of kimia/web/panel/pages/budgets.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.budgets.budgets": lambda p: Visit("/panel/budgets", names_a=False),
}
