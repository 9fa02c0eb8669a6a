"""Cases of kimia/web/portal/pages/auth.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "portal.auth.login": lambda p: Visit("/portal/login", names_a=False, served=frozenset({200, 302})),
    "portal.auth.logout": lambda p: Visit("/portal/logout", names_a=False, served=frozenset({302}), ends_session=True),
    "portal.auth.home": lambda p: Visit("/portal/", names_a=False),
}
