"""Isolation cases of kimia/web/api/routes/audit.py."""

from __future__ import annotations

from . import Case, Probe

CASES: dict[str, Case] = {
    "GET /audit-log": lambda api: Probe("/audit-log"),
}
