"""Cases of kimia/web/panel/pages/auth.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.auth.login": lambda p: Visit("/panel/login", names_a=False, served=frozenset({200, 302, 401})),
    "panel.auth.logout": lambda p: Visit("/panel/logout", names_a=False, served=frozenset({302}), ends_session=True),
    "panel.auth.home": lambda p: Visit("/panel/", names_a=False, served=frozenset({200, 302})),
}
