"""Cases of kimia/web/panel/pages/structure.py."""

from __future__ import annotations

from . import Case, Visit

CASES: dict[str, Case] = {
    "panel.structure.overview": lambda p: Visit("/panel/structure", names_a=False),
    "panel.structure.add_sub_club": lambda p: Visit("/panel/structure/sub-clubs", {"name_fa": "زیرباشگاه گردش"}, names_a=False),
    "panel.structure.add_marketer": lambda p: Visit("/panel/structure/marketers", {"name_fa": "بازاریاب گردش"}, names_a=False),
    "panel.structure.add_merchant_group": lambda p: Visit("/panel/structure/merchant-groups", {"name_fa": "گروه گردش"}, names_a=False),
    "panel.structure.add_member_group": lambda p: Visit("/panel/structure/member-groups", {"name_fa": "گروه گردش"}, names_a=False),
    "panel.structure.merchant_group": lambda p: Visit(f"/panel/structure/merchant-groups/{p.a.merchant_group_id}"),
    "panel.structure.change_merchant_group": lambda p: Visit(
        f"/panel/structure/merchant-groups/{p.a.merchant_group_id}",
        {"ids": [str(p.a.merchants["cafe"]), str(p.a.merchants["restaurant"])]}),
    "panel.structure.member_group": lambda p: Visit(f"/panel/structure/member-groups/{p.a.member_group_id}"),
    "panel.structure.change_member_group": lambda p: Visit(
        f"/panel/structure/member-groups/{p.a.member_group_id}", {"add": str(p.api.members[p.a.club_id])}),
}
