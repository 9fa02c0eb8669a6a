"""Cases of kimia/web/portal/pages/referral.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "portal.referral.referral": lambda p: Visit("/portal/referral", names_a=False),
}
