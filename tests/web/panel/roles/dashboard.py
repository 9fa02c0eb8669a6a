"""Cases of kimia/web/panel/pages/dashboard.py (the page names nothing of club A's: each club's
staff see their own club's figures; tests/web/panel/test_dashboard.py checks which)."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.dashboard.dashboard": lambda p: Visit("/panel/dashboard?days=7", names_a=False),
}
