"""Cases of kimia/web/panel/pages/platform.py (the platform's operator only)."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.platform.clubs": lambda p: Visit("/panel/platform/clubs", names_a=False),
    "panel.platform.create_owner": lambda p: Visit("/panel/platform/owners", {"name_fa": "شرکت گردش"}, names_a=False),
    "panel.platform.create_club": lambda p: Visit("/panel/platform/clubs", {"owner_id": str(p.a.owner_id), "name_fa": "باشگاه گردش"},
                                                  names_a=False),
    "panel.platform.create_admin": lambda p: Visit(
        "/panel/platform/admins", {"club_id": str(p.a.club_id), "login": "walk-admin", "name": "مدیر گردش",
                                   "password": "a long enough password"}, names_a=False),
    "panel.platform.tariffs": lambda p: Visit("/panel/platform/tariffs", names_a=False),
    "panel.platform.set_tariff": lambda p: Visit("/panel/platform/tariffs", {"business_type": "walk", "percent_bp": "100"},
                                                 names_a=False),
}
