"""Member groups over the API: made, listed, read a page of members at a time, changed; their bad
inputs (code, path, nothing changed), their audit lines, and that club A never sees B's groups."""

from __future__ import annotations

from kimia.web.api.paging import encode_cursor
from service.builders import audit, mobile

from ..conftest import Api
from .test_clubs import management, refused, unchanged


def enroll(api: Api, n: int) -> list[int]:
    return [api.a.enroll(identifiers=[("mobile", mobile(3_000_000 + i))], name_fa=f"عضو {i}") for i in range(n)]


def test_member_groups_are_made_listed_and_read_a_page_at_a_time(api: Api) -> None:
    key = management(api)
    members = enroll(api, 3)
    r = api.post("/member-groups", key, {"name_fa": "خانواده", "name_en": "Family", "ids": [members[2], members[0], members[1], members[0]]})
    assert r.status_code == 201, r.json
    group = r.json["id"]
    assert (r.json["club_id"], r.json["name_en"], r.json["size"]) == (api.a.club_id, "Family", 3)
    listed = api.get("/member-groups", key).json["items"]
    assert [(g["id"], g["size"]) for g in listed] == [(api.a.member_group_id, 0), (group, 3)]
    assert api.get(f"/member-groups/{group}", key).json == r.json
    first = api.get(f"/member-groups/{group}/members", key, limit=2).json
    rest = api.get(f"/member-groups/{group}/members", key, limit=2, cursor=first["next_cursor"]).json
    assert [m["member_id"] for m in first["items"] + rest["items"]] == sorted(members) and rest["next_cursor"] is None
    assert audit(api.service, "create_member_group")[-1][2] == {"id": group, "members": sorted(members)}
    assert [g["id"] for g in api.get("/member-groups", management(api, api.b)).json["items"]] == [api.b.member_group_id]


def test_a_groups_members_are_added_and_taken_out_and_the_rules_see_it(api: Api) -> None:
    key = management(api)
    vip = api.a.member_group_id
    one, two = enroll(api, 2)
    r = api.put(f"/member-groups/{vip}/members", key, {"add": [one, two]})
    assert r.status_code == 200 and r.json["size"] == 2, r.json
    r = api.put(f"/member-groups/{vip}/members", key, {"add": [one], "remove": [two, api.members[api.a.club_id]]})
    assert r.json["size"] == 1
    assert [m["member_id"] for m in api.get(f"/member-groups/{vip}/members", key).json["items"]] == [one]
    lines = audit(api.service, "change_member_group")
    assert [(p["added"], p["removed"]) for _, _, p in lines] == [(sorted([one, two]), []), ([], [two])]
    assert all(actor.startswith("api:") for actor, _, _ in lines)
    # The member is in the group the rules and the conversion ratios read.
    with api.service.reading() as tx:
        groups = [g for (g,) in tx.all("SELECT group_id FROM member_group_members WHERE member_id = ?", (one,))]
    assert groups == [vip]


def test_members_a_meta_club_shares_may_be_grouped(api: Api) -> None:
    api.a.admin.create_meta_club("فرا", [api.a.club_id, api.b.club_id], share_members=True)
    r = api.post("/member-groups", management(api), {"name_fa": "مهمان", "ids": [api.members[api.b.club_id]]})
    assert r.status_code == 201 and r.json["size"] == 1, r.json


def test_bad_member_groups_are_refused_and_change_nothing(api: Api) -> None:
    key = management(api)
    group_a, group_b = api.a.member_group_id, api.b.member_group_id
    own, theirs = api.members[api.a.club_id], api.members[api.b.club_id]
    with unchanged(api):
        refused(api.post("/member-groups", key, {"name_fa": "x", "ids": [own, theirs]}), 422, "foreign_reference", "ids.1")
        refused(api.post("/member-groups", key, {"name_fa": "x", "ids": [999_999]}), 422, "foreign_reference", "ids.0")
        refused(api.post("/member-groups", key, {"ids": [own]}), 400, "field_required", "name_fa")
        refused(api.get(f"/member-groups/{group_b}", key), 404, "not_found", "group_id")
        assert api.get(f"/member-groups/{group_b}", key, lang="fa").json["error"]["message"] == "چنین گروه عضوی اینجا وجود ندارد"
        refused(api.get(f"/member-groups/{group_b}/members", key), 404, "not_found", "group_id")
        refused(api.put(f"/member-groups/{group_b}/members", key, {"remove": [theirs]}), 404, "not_found", "group_id")
        refused(api.put(f"/member-groups/{group_a}/members", key, {"add": [own, theirs]}), 422, "foreign_reference", "add.1")
        refused(api.put(f"/member-groups/{group_a}/members", key, {"add": "all"}), 400, "field_invalid", "add")
        refused(api.get(f"/member-groups/{group_a}/members", key, cursor="zz"), 400, "invalid_cursor", "cursor")
        refused(api.get(f"/member-groups/{2**64}/members", key), 404, "not_found")  # no such route: ids end at 2**63 - 1
        refused(api.post("/member-groups", key, {"name_fa": "x", "ids": [own, 2**64]}), 400, "field_invalid", "ids.1")
        assert api.get(f"/member-groups/{group_a}/members", key, cursor=encode_cursor(2**64)).json == {"items": [], "next_cursor": None}
        for kind in ("integration", "merchant", "member"):
            refused(api.get("/member-groups", api.keys_of(api.a)[kind]), 403, "forbidden")
        refused(api.post("/member-groups", api.keys["platform"], {"name_fa": "x"}), 403, "forbidden")
