"""Cases of kimia/web/panel/pages/keys.py."""

from __future__ import annotations

from typing import Any

from kimia.service import apikeys

from . import Case, Visit


def fresh_key(p: Any) -> str:
    """An integration key of club A made for one visit (the walker revokes it)."""
    return apikeys.create(p.service, kind="integration", club_id=p.a.club_id, actor="test", label="walk")[0].public_id


CASES: dict[str, Case] = {
    "panel.keys.keys": lambda p: Visit("/panel/keys", names_a=False),
    "panel.keys.create": lambda p: Visit("/panel/keys", {"kind": "integration", "label": "walk"}, names_a=False),
    "panel.keys.revoke": lambda p: Visit(f"/panel/keys/{fresh_key(p)}/revoke", {"reason": "walk"}),
}
