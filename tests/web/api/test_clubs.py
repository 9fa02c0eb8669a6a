"""The club tree, sub-clubs and marketers (a management key, its own tree only), and the platform's
owners, root clubs, meta-clubs and fee tariffs (the platform key only): each route's answer, its
bad inputs (code, path, nothing changed) and its audit line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from service.builders import audit, dump, scalar, sheba

from ..conftest import Api

#: The tables of a club's structure, and the audit log: a refused request changes none of them.
STRUCTURE = ("club_owners", "clubs", "meta_clubs", "meta_club_members", "fee_tariffs", "marketers", "merchants", "branches",
             "terminals", "merchant_groups", "merchant_group_members", "member_groups", "member_group_members", "audit_log")


@contextmanager
def unchanged(api: Api) -> Iterator[None]:
    """The structure and the audit log are the same after the block."""
    before = dump(api.service, STRUCTURE)
    yield
    assert dump(api.service, STRUCTURE) == before


def refused(r: Any, status: int, code: str, path: str | None = None) -> None:
    assert (r.status_code, r.json["error"]["code"]) == (status, code), r.json
    if path is not None:
        assert r.json["error"]["path"] == path, r.json


def management(api: Api, world: Any = None) -> str:
    return api.keys_of(world or api.a)["management"]


# --- the club tree -------------------------------------------------------------------------------


def test_the_club_tree_shows_the_club_its_sub_clubs_and_its_meta_clubs(api: Api) -> None:
    meta = api.a.admin.create_meta_club("فرا", [api.a.club_id, api.b.club_id], share_members=True, share_value=False)
    r = api.get("/club-tree", management(api))
    assert r.status_code == 200, r.json
    club = r.json["club"]
    assert club["id"] == api.a.club_id and club["parent_id"] is None and club["name_en"] == "Club 1"
    assert [s["id"] for s in club["sub_clubs"]] == [api.a.sub_club_id]
    assert club["sub_clubs"][0]["parent_id"] == api.a.club_id and club["created"]["at_jalali"]
    assert r.json["meta_clubs"] == [{**r.json["meta_clubs"][0], "id": meta, "share_members": True, "share_merchants": False,
                                     "share_value": False, "club_ids": sorted([api.a.club_id, api.b.club_id])}]
    # B's tree is B's: no club of A in it.
    tree_b = api.get("/club-tree", management(api, api.b)).json["club"]
    assert tree_b["id"] == api.b.club_id and [s["id"] for s in tree_b["sub_clubs"]] == [api.b.sub_club_id]


def test_the_club_tree_is_the_management_keys_only(api: Api) -> None:
    refused(api.get("/club-tree", api.keys_of(api.a)["integration"]), 403, "forbidden")
    refused(api.get("/club-tree", api.keys["platform"]), 403, "forbidden")


# --- sub-clubs -----------------------------------------------------------------------------------


def test_a_sub_club_is_made_under_a_club_of_the_tree_at_any_depth(api: Api) -> None:
    r = api.post(f"/clubs/{api.a.sub_club_id}/sub-clubs", management(api), {"name_fa": "زیر زیر", "name_en": "Deep"})
    assert r.status_code == 201, r.json
    deep = r.json["id"]
    assert r.json["parent_id"] == api.a.sub_club_id and r.json["sub_clubs"] == []
    tree = api.get("/club-tree", management(api)).json["club"]
    assert [c["id"] for c in tree["sub_clubs"][0]["sub_clubs"]] == [deep]
    # The sub-club has the owner of the club it is under.
    assert scalar(api.service, "SELECT owner_id FROM clubs WHERE id = ?", (deep,)) == api.a.owner_id
    assert audit(api.service, "create_club")[-1][0].startswith("api:")


def test_bad_sub_clubs_are_refused_and_change_nothing(api: Api) -> None:
    key = management(api)
    with unchanged(api):
        refused(api.post(f"/clubs/{api.b.club_id}/sub-clubs", key, {"name_fa": "x"}), 404, "unknown_club", "club_id")
        refused(api.post("/clubs/999999/sub-clubs", key, {"name_fa": "x"}), 404, "unknown_club", "club_id")
        refused(api.post(f"/clubs/{api.a.club_id}/sub-clubs", key, {"name_fa": ""}), 400, "field_invalid", "name_fa")
        refused(api.post(f"/clubs/{api.a.club_id}/sub-clubs", key, {}), 400, "field_required", "name_fa")
        refused(api.post(f"/clubs/{api.a.club_id}/sub-clubs", key, {"name_fa": "x", "colour": "red"}), 400, "field_invalid", "colour")
        refused(api.post(f"/clubs/{api.a.club_id}/sub-clubs", api.keys["platform"], {"name_fa": "x"}), 403, "forbidden")


def test_a_retried_creation_makes_one_sub_club(api: Api) -> None:
    key = management(api)
    first = api.post(f"/clubs/{api.a.club_id}/sub-clubs", key, {"name_fa": "یک"}, idem="same")
    again = api.post(f"/clubs/{api.a.club_id}/sub-clubs", key, {"name_fa": "یک"}, idem="same")
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    refused(api.post(f"/clubs/{api.a.club_id}/sub-clubs", key, {"name_fa": "دو"}, idem="same"), 409, "exists_with_different_request")


# --- marketers -----------------------------------------------------------------------------------


def test_marketers_are_added_and_listed_in_the_callers_tree(api: Api) -> None:
    key = management(api)
    r = api.post("/marketers", key, {"name_fa": "بازاریاب دوم", "sheba": sheba(999), "club_id": api.a.sub_club_id})
    assert r.status_code == 201, r.json
    assert r.json["club_id"] == api.a.sub_club_id and r.json["sheba"] == sheba(999)
    listed = api.get("/marketers", key).json
    assert [m["id"] for m in listed["items"]] == [api.a.marketer_id, r.json["id"]] and listed["next_cursor"] is None
    page = api.get("/marketers", key, limit=1).json
    assert [m["id"] for m in page["items"]] == [api.a.marketer_id] and page["next_cursor"]
    rest = api.get("/marketers", key, limit=1, cursor=page["next_cursor"]).json
    assert [m["id"] for m in rest["items"]] == [r.json["id"]]
    assert [m["id"] for m in api.get("/marketers", management(api, api.b)).json["items"]] == [api.b.marketer_id]
    assert audit(api.service, "create_marketer")[-1][0] == f"api:{key.split('_')[2]}"


def test_bad_marketers_are_refused_and_change_nothing(api: Api) -> None:
    key = management(api)
    with unchanged(api):
        refused(api.post("/marketers", key, {"name_fa": "x", "club_id": api.b.club_id}), 404, "unknown_club", "club_id")
        refused(api.post("/marketers", key, {"name_fa": "x", "sheba": "IR12"}), 400, "invalid_sheba_format", "sheba")
        refused(api.post("/marketers", key, {"name_fa": "x", "club_id": 0}), 400, "field_invalid", "club_id")
        refused(api.post("/marketers", api.keys_of(api.a)["integration"], {"name_fa": "x"}), 403, "forbidden")
        refused(api.get("/marketers", key, cursor="made-up"), 400, "invalid_cursor", "cursor")


# --- the platform --------------------------------------------------------------------------------


def test_the_platform_opens_an_owner_and_a_root_club_that_then_gets_its_key(api: Api) -> None:
    key = api.keys["platform"]
    owner = api.post("/owners", key, {"name_fa": "شرکت نو", "name_en": "New Co", "sheba": sheba(777)})
    assert owner.status_code == 201 and owner.json["sheba"] == sheba(777), owner.json
    club = api.post("/clubs", key, {"owner_id": owner.json["id"], "name_fa": "باشگاه نو", "business_type": "retail"})
    assert club.status_code == 201, club.json
    assert club.json["owner_id"] == owner.json["id"] and club.json["parent_id"] is None and club.json["sub_clubs"] == []
    clubs = api.get("/clubs", key).json["items"]
    assert [c["id"] for c in clubs] == [api.a.club_id, api.b.club_id, club.json["id"]]
    assert owner.json["id"] in [o["id"] for o in api.get("/owners", key).json["items"]]
    made = api.post("/api-keys", key, {"kind": "management", "club_id": club.json["id"]}).json["key"]
    assert api.get("/club-tree", made).json["club"]["id"] == club.json["id"]
    assert [a for a, _, p in audit(api.service, "create_club") if p.get("id") == club.json["id"]] == [f"api:{key.split('_')[2]}"]


def test_bad_owners_and_clubs_are_refused_and_change_nothing(api: Api) -> None:
    key = api.keys["platform"]
    with unchanged(api):
        refused(api.post("/owners", key, {"name_fa": "x", "sheba": sheba(1)[:-1] + "0"}), 400, "invalid_sheba_checksum", "sheba")
        refused(api.post("/owners", key, {"name_en": "x"}), 400, "field_required", "name_fa")
        refused(api.post("/clubs", key, {"owner_id": 999999, "name_fa": "x"}), 404, "not_found", "owner_id")
        refused(api.post("/clubs", key, {"owner_id": "one", "name_fa": "x"}), 400, "field_invalid", "owner_id")
        refused(api.post("/clubs", key, {"owner_id": api.a.owner_id, "name_fa": "x", "business_type": "y" * 51}), 400, "field_invalid",
                "business_type")
        for path in ("/owners", "/clubs"):
            refused(api.post(path, management(api), {"name_fa": "x", "owner_id": api.a.owner_id}), 403, "forbidden")
            refused(api.get(path, management(api)), 403, "forbidden")


def test_the_platform_makes_a_meta_club_of_root_clubs(api: Api) -> None:
    key = api.keys["platform"]
    r = api.post("/meta-clubs", key, {"name_fa": "فرا", "club_ids": [api.a.club_id, api.b.club_id], "share_merchants": True})
    assert r.status_code == 201, r.json
    assert r.json["club_ids"] == sorted([api.a.club_id, api.b.club_id])
    assert (r.json["share_members"], r.json["share_merchants"], r.json["share_value"]) == (True, True, False)
    assert [m["id"] for m in api.get("/meta-clubs", key).json["items"]] == [r.json["id"]]
    assert [m["id"] for m in api.get("/club-tree", management(api, api.b)).json["meta_clubs"]] == [r.json["id"]]


def test_bad_meta_clubs_are_refused_and_change_nothing(api: Api) -> None:
    key = api.keys["platform"]
    a, b = api.a.club_id, api.b.club_id
    with unchanged(api):
        refused(api.post("/meta-clubs", key, {"name_fa": "x", "club_ids": [a, api.b.sub_club_id]}), 404, "unknown_club", "club_ids.1")
        refused(api.post("/meta-clubs", key, {"name_fa": "x", "club_ids": [999999, b]}), 404, "unknown_club", "club_ids.0")
        refused(api.post("/meta-clubs", key, {"name_fa": "x", "club_ids": [a, a]}), 400, "field_invalid", "club_ids")
        refused(api.post("/meta-clubs", key, {"name_fa": "x", "club_ids": [a]}), 400, "field_invalid", "club_ids")
        refused(api.post("/meta-clubs", management(api), {"name_fa": "x", "club_ids": [a, b]}), 403, "forbidden")
        refused(api.get("/meta-clubs", management(api)), 403, "forbidden")


def test_the_platform_sets_and_lists_fee_tariffs(api: Api) -> None:
    key = api.keys["platform"]
    r = api.put("/fee-tariffs", key, {"business_type": "cafe", "percent_bp": 150, "fixed_rial": 1_000, "cap_rial": 50_000})
    assert r.status_code == 200 and r.json == {"business_type": "cafe", "percent_bp": 150, "fixed_rial": 1_000, "cap_rial": 50_000}
    again = api.put("/fee-tariffs", key, {"business_type": "cafe", "percent_bp": 200})
    assert again.status_code == 200 and again.json["cap_rial"] is None
    tariffs = {t["business_type"]: t for t in api.get("/fee-tariffs", key).json["items"]}
    assert set(tariffs) == {None, "restaurant", "cafe"} and tariffs["cafe"]["percent_bp"] == 200
    assert [p["percent_bp"] for _, _, p in audit(api.service, "set_fee_tariff") if p["business_type"] == "cafe"] == [150, 200]


def test_bad_fee_tariffs_are_refused_and_change_nothing(api: Api) -> None:
    key = api.keys["platform"]
    with unchanged(api):
        refused(api.put("/fee-tariffs", key, {"percent_bp": 10_001}), 400, "field_invalid", "percent_bp")
        refused(api.put("/fee-tariffs", key, {"percent_bp": 10, "fixed_rial": -1}), 400, "field_invalid", "fixed_rial")
        refused(api.put("/fee-tariffs", key, {"business_type": "cafe"}), 400, "field_required", "percent_bp")
        refused(api.put("/fee-tariffs", management(api), {"percent_bp": 10}), 403, "forbidden")
        refused(api.get("/fee-tariffs", management(api)), 403, "forbidden")
