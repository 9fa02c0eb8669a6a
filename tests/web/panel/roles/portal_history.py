"""Cases of kimia/web/portal/pages/history.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "portal.history.history": lambda p: Visit("/portal/history", names_a=False),
}
