"""Isolation cases of kimia/web/api/routes/groups.py: club A's member groups (A's management key only)."""

from __future__ import annotations

from . import Case, Probe

CASES: dict[str, Case] = {
    "POST /member-groups": lambda api: Probe("/member-groups", {"name_fa": "گروه", "ids": [api.members[api.a.club_id]]}),
    "GET /member-groups": lambda api: Probe("/member-groups"),
    "GET /member-groups/{group_id}": lambda api: Probe(f"/member-groups/{api.a.member_group_id}"),
    "GET /member-groups/{group_id}/members": lambda api: Probe(f"/member-groups/{api.a.member_group_id}/members"),
    "PUT /member-groups/{group_id}/members": lambda api: Probe(f"/member-groups/{api.a.member_group_id}/members",
                                                                {"add": [api.members[api.a.club_id]]}),
}
