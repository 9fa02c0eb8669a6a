"""Cases of kimia/web/panel/pages/audit.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.audit.audit_log": lambda p: Visit("/panel/audit", names_a=False),
}
