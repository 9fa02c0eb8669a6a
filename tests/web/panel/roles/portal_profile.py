"""Cases of kimia/web/portal/pages/profile.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "portal.profile.profile": lambda p: Visit("/portal/profile", names_a=False),
}
