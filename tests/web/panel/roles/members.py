"""Cases of kimia/web/panel/pages/members.py."""

from __future__ import annotations

from service.builders import mobile

from . import Case, Visit


def _member(p: object) -> int:
    return int(p.api.members[p.a.club_id])  # type: ignore[attr-defined]


CASES: dict[str, Case] = {
    # The search names nothing of club A's by address: B's staff are served their own (empty) answer
    # (tests/web/panel/test_members.py checks they never find A's members).
    "panel.members.search": lambda p: Visit("/panel/members?q=09", names_a=False),
    "panel.members.enrol": lambda p: Visit("/panel/members/new", names_a=False,
                                           form={"form_key": "walker-enrol-0001", "name_fa": "عضو پیاده", "mobile": mobile(7_100_000)}),
    "panel.members.member_page": lambda p: Visit(f"/panel/members/{_member(p)}"),
    "panel.members.adjust": lambda p: Visit(f"/panel/members/{_member(p)}/adjust",
                                            form={"form_key": "walker-adjust-0001", "account_kind": "points", "direction": "add",
                                                  "amount": "5", "reason": "walker"}),
    "panel.members.identifiers": lambda p: Visit(f"/panel/members/{_member(p)}/identifiers",
                                                 form={"form_key": "walker-bind-0001", "kind": "mobile", "value": mobile(7_200_000)}),
}
