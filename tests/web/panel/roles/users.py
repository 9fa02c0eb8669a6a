"""Cases of kimia/web/panel/pages/users.py."""

from __future__ import annotations

import itertools
from typing import Any

from kimia.service import staff

from . import Case, Visit

_N = itertools.count(1)


def fresh_user(p: Any) -> int:
    """A marketer of club A made for one visit (the walker disables it or changes its password)."""
    return staff.create_user(p.service, login=f"walk-user-{next(_N)}", name="کاربر گردش", role="marketer",
                             password="a long enough password", actor="test", club_id=p.a.club_id).id


CASES: dict[str, Case] = {
    "panel.users.users": lambda p: Visit("/panel/users", names_a=False),
    "panel.users.create": lambda p: Visit("/panel/users", {"login": f"walk-new-{next(_N)}", "name": "کاربر تازه", "role": "support",
                                                           "password": "a long enough password"}, names_a=False),
    "panel.users.user": lambda p: Visit(f"/panel/users/{p.users[(p.a.club_id, 'read_only')].id}"),
    "panel.users.set_state": lambda p: Visit(f"/panel/users/{fresh_user(p)}/state", {"disabled": "1", "reason": "walk"}),
    "panel.users.set_password": lambda p: Visit(f"/panel/users/{fresh_user(p)}/password",
                                                {"password": "another long password", "reason": "walk"}),
}
