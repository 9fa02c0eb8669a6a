"""Merchants, branches, terminals (and their MAC keys) and merchant groups over the API: each
route's answer, its bad inputs (code, path, nothing changed), its audit line, and that club A's
keys never see or touch club B's."""

from __future__ import annotations

from kimia.service import apikeys
from kimia.service.terminalkeys import kcv, load_kek, unwrap
from service.builders import all_text, audit, scalar, sheba

from ..conftest import Api
from .test_clubs import management, refused, unchanged

KEY_128 = "00112233445566778899AABBCCDDEEFF"
KEY_256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"


def public_id(key: str) -> str:
    return key.split("_")[2]


# --- merchants -----------------------------------------------------------------------------------


def test_merchants_are_listed_a_page_at_a_time_within_the_tree(api: Api) -> None:
    key = management(api)
    a = api.a.merchants
    everything = api.get("/merchants", key).json
    assert [m["id"] for m in everything["items"]] == sorted(a.values()) and everything["next_cursor"] is None
    first = api.get("/merchants", key, limit=2).json
    rest = api.get("/merchants", key, limit=2, cursor=first["next_cursor"]).json
    assert [m["id"] for m in first["items"] + rest["items"]] == sorted(a.values())
    cafe = next(m for m in everything["items"] if m["id"] == a["cafe"])
    assert (cafe["name_en"], cafe["business_type"], cafe["marketer_id"], cafe["active"]) == ("Cafe", "cafe", api.a.marketer_id, True)
    # An integration key reads them too (never their settlement account); one bound to the cafe sees the cafe only.
    assert cafe["sheba"] is not None
    by_integration = api.get("/merchants", api.keys_of(api.a)["integration"]).json["items"]
    assert len(by_integration) == 3 and all(m["sheba"] is None for m in by_integration)
    assert [m["id"] for m in api.get("/merchants", api.keys_of(api.a)["merchant"]).json["items"]] == [a["cafe"]]
    assert [m["id"] for m in api.get("/merchants", management(api, api.b)).json["items"]] == sorted(api.b.merchants.values())


def test_a_key_bound_to_a_branch_reads_its_merchant_and_that_branch_only(api: Api) -> None:
    cafe, north = api.a.merchants["cafe"], api.a.branches["cafe-north"]
    south = api.post(f"/merchants/{cafe}/branches", management(api), {"name_fa": "شعبه جنوب"}).json["id"]
    key = apikeys.create(api.service, kind="integration", club_id=api.a.club_id, actor="test", branch_id=north)[1]
    assert [m["id"] for m in api.get("/merchants", key).json["items"]] == [cafe]
    assert [b["id"] for b in api.get(f"/merchants/{cafe}/branches", key).json["items"]] == [north]
    assert south != north
    refused(api.get(f"/merchants/{api.a.merchants['restaurant']}", key), 404, "unknown_merchant", "merchant_id")
    refused(api.get(f"/merchants/{api.a.merchants['restaurant']}/branches", key), 404, "unknown_merchant", "merchant_id")


def test_a_merchant_is_read_by_its_own_club_only(api: Api) -> None:
    cafe = api.a.merchants["cafe"]
    r = api.get(f"/merchants/{cafe}", management(api))
    assert r.status_code == 200 and r.json["id"] == cafe and r.json["club_id"] == api.a.club_id
    assert api.get(f"/merchants/{api.a.merchants['bookshop']}", management(api)).json["club_id"] == api.a.sub_club_id
    refused(api.get(f"/merchants/{cafe}", management(api, api.b)), 404, "unknown_merchant", "merchant_id")
    refused(api.get("/merchants/999999", management(api)), 404, "unknown_merchant", "merchant_id")
    refused(api.get(f"/merchants/{api.a.merchants['restaurant']}", api.keys_of(api.a)["merchant"]), 404, "unknown_merchant")
    refused(api.get(f"/merchants/{cafe}", api.keys_of(api.a)["member"]), 403, "forbidden")


def test_a_merchant_is_added_to_a_club_of_the_tree_and_renamed(api: Api) -> None:
    key = management(api)
    body = {"name_fa": "نانوایی", "name_en": "Bakery", "business_type": "bakery", "sheba": sheba(555), "marketer_id": api.a.marketer_id,
            "club_id": api.a.sub_club_id}
    r = api.post("/merchants", key, body)
    assert r.status_code == 201, r.json
    made = r.json["id"]
    assert {k: r.json[k] for k in body} == body and r.json["active"] is True
    assert audit(api.service, "create_merchant")[-1][0] == f"api:{public_id(key)}"
    changed = api.put(f"/merchants/{made}", key, {"name_en": "Bread", "business_type": None})
    assert changed.status_code == 200, changed.json
    assert (changed.json["name_fa"], changed.json["name_en"], changed.json["business_type"]) == ("نانوایی", "Bread", None)
    assert audit(api.service, "update_merchant")[-1] == (f"api:{public_id(key)}", "", {"id": made, "name_en": "Bread", "business_type": None})
    assert api.get(f"/merchants/{made}", key).json == changed.json
    with unchanged(api):
        assert api.put(f"/merchants/{made}", key, {}).json == changed.json


def test_bad_merchants_are_refused_and_change_nothing(api: Api) -> None:
    key = management(api)
    cafe = api.a.merchants["cafe"]
    with unchanged(api):
        refused(api.post("/merchants", key, {"name_fa": "x", "club_id": api.b.club_id}), 404, "unknown_club", "club_id")
        refused(api.post("/merchants", key, {"name_fa": "x", "marketer_id": api.b.marketer_id}), 422, "foreign_reference", "marketer_id")
        refused(api.post("/merchants", key, {"name_fa": "x", "sheba": "IR00"}), 400, "invalid_sheba_format", "sheba")
        refused(api.post("/merchants", key, {"name_fa": "x", "active": False}), 400, "field_invalid", "active")
        refused(api.post("/merchants", api.keys_of(api.a)["integration"], {"name_fa": "x"}), 403, "forbidden")
        refused(api.put(f"/merchants/{cafe}", key, {"name_fa": None}), 400, "field_invalid", "name_fa")
        refused(api.put(f"/merchants/{cafe}", key, {"name_fa": ""}), 400, "field_invalid", "name_fa")
        refused(api.put(f"/merchants/{cafe}", key, {"sheba": sheba(1)}), 400, "field_invalid", "sheba")
        refused(api.put(f"/merchants/{api.b.merchants['cafe']}", key, {"name_en": "Mine"}), 404, "unknown_merchant", "merchant_id")
        refused(api.put(f"/merchants/{cafe}", api.keys_of(api.a)["integration"], {"name_en": "x"}), 403, "forbidden")
        refused(api.get("/merchants", key, limit=0), 400, "field_invalid", "limit")
        # An id no database holds (above 2**63 - 1) names nothing.
        refused(api.get(f"/merchants/{2**64}", key), 404, "not_found")  # no such route: ids end at 2**63 - 1
        refused(api.post("/merchants", key, {"name_fa": "x", "marketer_id": 2**64}), 400, "field_invalid", "marketer_id")


# --- branches ------------------------------------------------------------------------------------


def test_branches_are_added_and_listed_per_merchant(api: Api) -> None:
    key = management(api)
    cafe = api.a.merchants["cafe"]
    r = api.post(f"/merchants/{cafe}/branches", key, {"name_fa": "شعبه جنوب"})
    assert r.status_code == 201 and r.json["merchant_id"] == cafe, r.json
    listed = api.get(f"/merchants/{cafe}/branches", key).json["items"]
    assert [b["id"] for b in listed] == [api.a.branches["cafe-north"], r.json["id"]]
    assert len(api.get(f"/merchants/{cafe}/branches", api.keys_of(api.a)["merchant"]).json["items"]) == 2
    assert api.get(f"/merchants/{api.a.merchants['restaurant']}/branches", key).json["items"] == []
    assert audit(api.service, "create_branch")[-1][0] == f"api:{public_id(key)}"


def test_bad_branches_are_refused_and_change_nothing(api: Api) -> None:
    key = management(api)
    cafe_b = api.b.merchants["cafe"]
    with unchanged(api):
        refused(api.post(f"/merchants/{cafe_b}/branches", key, {"name_fa": "x"}), 404, "unknown_merchant", "merchant_id")
        refused(api.post(f"/merchants/{api.a.merchants['cafe']}/branches", key, {"name_fa": ""}), 400, "field_invalid", "name_fa")
        refused(api.post(f"/merchants/{api.a.merchants['cafe']}/branches", api.keys_of(api.a)["integration"], {"name_fa": "x"}), 403,
                "forbidden")
        refused(api.get(f"/merchants/{cafe_b}/branches", key), 404, "unknown_merchant", "merchant_id")


# --- terminals -----------------------------------------------------------------------------------


def test_terminals_are_registered_with_a_key_answered_by_its_check_value_only(api: Api) -> None:
    key = management(api)
    cafe = api.a.merchants["cafe"]
    body = {"terminal_code": "T9990001", "merchant_code": "M99900000000001", "kind": "pcpos", "branch_id": api.a.branches["cafe-north"],
            "mac_key_hex": KEY_128}
    r = api.post(f"/merchants/{cafe}/terminals", key, body)
    assert r.status_code == 201, r.json
    made = r.json["id"]
    assert (r.json["kind"], r.json["branch_id"], r.json["mac_key_version"]) == ("pcpos", api.a.branches["cafe-north"], 1)
    assert r.json["mac_key_kcv"] == kcv(bytes.fromhex(KEY_128)) and KEY_128 not in r.get_data(as_text=True)
    stored = scalar(api.service, "SELECT mac_key_enc FROM terminals WHERE id = ?", (made,))
    assert unwrap(load_kek(), stored, "T9990001", "M99900000000001") == bytes.fromhex(KEY_128)
    assert not any(KEY_128.lower() in text.lower() for _, _, text in all_text(api.service))
    # The host knows it: a registered terminal is found by its ids.
    assert api.service.terminal("T9990001", "M99900000000001").merchant_id == cafe
    listed = api.get(f"/merchants/{cafe}/terminals", key).json["items"]
    assert [t["id"] for t in listed] == [api.a.terminals["cafe"], made]
    assert api.get(f"/terminals/{made}", key).json == r.json
    bare = api.post(f"/merchants/{cafe}/terminals", key, {"terminal_code": "T9990002", "merchant_code": "M99900000000001"})
    assert (bare.json["kind"], bare.json["mac_key_version"], bare.json["mac_key_kcv"]) == ("pos", 0, None)


def test_a_terminals_key_is_set_then_rotated_and_never_answered(api: Api) -> None:
    key = management(api)
    terminal = api.a.terminals["restaurant"]
    before = api.get(f"/terminals/{terminal}", key).json
    r = api.put(f"/terminals/{terminal}/mac-key", key, {"key_hex": KEY_256})
    assert r.status_code == 200, r.json
    assert r.json["mac_key_version"] == before["mac_key_version"] + 1 and r.json["mac_key_kcv"] == kcv(bytes.fromhex(KEY_256))
    rotated = api.put(f"/terminals/{terminal}/mac-key", key, {"key_hex": KEY_128})
    assert rotated.json["mac_key_version"] == before["mac_key_version"] + 2 and rotated.json["mac_key_kcv"] == kcv(bytes.fromhex(KEY_128))
    codes = (before["terminal_code"], before["merchant_code"])
    stored = scalar(api.service, "SELECT mac_key_enc FROM terminals WHERE id = ?", (terminal,))
    assert unwrap(load_kek(), stored, *codes) == bytes.fromhex(KEY_128)
    lines = audit(api.service, "set_terminal_key")[-2:]
    assert [p["kcv"] for _, _, p in lines] == [kcv(bytes.fromhex(KEY_256)), kcv(bytes.fromhex(KEY_128))]
    assert all(a == f"api:{public_id(key)}" for a, _, _ in lines)
    assert not any(k.lower() in text.lower() for _, _, text in all_text(api.service) for k in (KEY_128, KEY_256))


def test_bad_terminals_and_keys_are_refused_and_change_nothing(api: Api) -> None:
    key = management(api)
    cafe, cafe_b = api.a.merchants["cafe"], api.b.merchants["cafe"]
    taken = api.get(f"/terminals/{api.a.terminals['cafe']}", key).json
    ok = {"terminal_code": "T9990009", "merchant_code": "M1"}
    with unchanged(api):
        refused(api.post(f"/merchants/{cafe_b}/terminals", key, ok), 404, "unknown_merchant", "merchant_id")
        refused(api.post(f"/merchants/{cafe}/terminals", key, {**ok, "terminal_code": taken["terminal_code"],
                                                                "merchant_code": taken["merchant_code"]}), 409, "terminal_taken", "terminal_code")
        again = api.post(f"/merchants/{cafe}/terminals", key, {**ok, "terminal_code": taken["terminal_code"],
                                                               "merchant_code": taken["merchant_code"]}, lang="fa")
        assert taken["terminal_code"] in again.json["error"]["message"] and "قبلاً ثبت شده" in again.json["error"]["message"]
        refused(api.post(f"/merchants/{cafe}/terminals", key, {**ok, "terminal_code": "T12345678"}), 400, "field_invalid", "terminal_code")
        refused(api.post(f"/merchants/{cafe}/terminals", key, {**ok, "kind": "atm"}), 400, "field_invalid", "kind")
        refused(api.post(f"/merchants/{cafe}/terminals", key, {**ok, "mac_key_hex": "XYZ"}), 400, "field_invalid", "mac_key_hex")
        refused(api.post(f"/merchants/{cafe}/terminals", key, {**ok, "branch_id": api.b.branches["cafe-north"]}), 422, "foreign_reference",
                "branch_id")
        refused(api.post(f"/merchants/{cafe}/terminals", api.keys_of(api.a)["integration"], ok), 403, "forbidden")
        terminal_b = api.b.terminals["cafe"]
        refused(api.get(f"/terminals/{terminal_b}", key), 404, "unknown_terminal", "terminal_id")
        refused(api.get(f"/terminals/{2**64}", key), 404, "not_found")  # no such route: ids end at 2**63 - 1
        refused(api.get(f"/merchants/{cafe_b}/terminals", key), 404, "unknown_merchant", "merchant_id")
        refused(api.put(f"/terminals/{terminal_b}/mac-key", key, {"key_hex": KEY_128}), 404, "unknown_terminal", "terminal_id")
        refused(api.put(f"/terminals/{api.a.terminals['cafe']}/mac-key", key, {"key_hex": KEY_128[:-2]}), 400, "field_invalid", "key_hex")
        refused(api.put(f"/terminals/{api.a.terminals['cafe']}/mac-key", key, {}), 400, "field_required", "key_hex")
        refused(api.get(f"/terminals/{api.a.terminals['cafe']}", api.keys_of(api.a)["integration"]), 403, "forbidden")


def test_a_retried_registration_registers_one_terminal(api: Api) -> None:
    key = management(api)
    body = {"terminal_code": "T9990003", "merchant_code": "M3", "mac_key_hex": KEY_128}
    first = api.post(f"/merchants/{api.a.merchants['cafe']}/terminals", key, body, idem="reg")
    again = api.post(f"/merchants/{api.a.merchants['cafe']}/terminals", key, body, idem="reg")
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert scalar(api.service, "SELECT COUNT(*) FROM terminals WHERE terminal_code = 'T9990003'") == 1


# --- merchant groups -----------------------------------------------------------------------------


def test_merchant_groups_are_made_listed_and_changed(api: Api) -> None:
    key = management(api)
    a = api.a.merchants
    r = api.post("/merchant-groups", key, {"name_fa": "کتاب و قهوه", "ids": [a["bookshop"], a["cafe"]]})
    assert r.status_code == 201, r.json
    group = r.json["id"]
    assert r.json["merchant_ids"] == sorted([a["bookshop"], a["cafe"]]) and r.json["size"] == 2
    listed = api.get("/merchant-groups", key).json["items"]
    assert [(g["id"], g["size"]) for g in listed] == [(api.a.merchant_group_id, 2), (group, 2)]
    changed = api.put(f"/merchant-groups/{group}/merchants", key, {"add": [a["restaurant"], a["cafe"]], "remove": [a["bookshop"]]})
    assert changed.status_code == 200 and changed.json["merchant_ids"] == sorted([a["cafe"], a["restaurant"]]), changed.json
    same = api.put(f"/merchant-groups/{group}/merchants", key, {"add": [a["restaurant"], a["cafe"]], "remove": [a["bookshop"]]})
    assert same.json == changed.json
    assert api.get(f"/merchant-groups/{group}", key).json == changed.json
    lines = audit(api.service, "change_merchant_group")
    assert [(p["added"], p["removed"]) for _, _, p in lines] == [([a["restaurant"]], [a["bookshop"]]), ([], [])]


def test_merchant_groups_hold_merchants_a_meta_club_shares(api: Api) -> None:
    api.a.admin.create_meta_club("فرا", [api.a.club_id, api.b.club_id], share_merchants=True)
    key = management(api)
    r = api.post("/merchant-groups", key, {"name_fa": "مشترک", "ids": [api.b.merchants["cafe"]]})
    assert r.status_code == 201 and r.json["merchant_ids"] == [api.b.merchants["cafe"]], r.json


def test_bad_merchant_groups_are_refused_and_change_nothing(api: Api) -> None:
    key = management(api)
    group_a, group_b = api.a.merchant_group_id, api.b.merchant_group_id
    with unchanged(api):
        refused(api.post("/merchant-groups", key, {"name_fa": "x", "ids": [api.a.merchants["cafe"], api.b.merchants["cafe"]]}), 422,
                "foreign_reference", "ids.1")
        refused(api.post("/merchant-groups", key, {"name_fa": "x", "ids": ["one"]}), 400, "field_invalid", "ids.0")
        refused(api.get(f"/merchant-groups/{group_b}", key), 404, "not_found", "group_id")
        refused(api.put(f"/merchant-groups/{group_b}/merchants", key, {"remove": [api.b.merchants["cafe"]]}), 404, "not_found", "group_id")
        refused(api.put(f"/merchant-groups/{group_a}/merchants", key, {"add": [api.b.merchants["cafe"]]}), 422, "foreign_reference", "add.0")
        refused(api.put(f"/merchant-groups/{group_a}/merchants", key, {"add": [1], "drop": [2]}), 400, "field_invalid", "drop")
        refused(api.get("/merchant-groups", api.keys_of(api.a)["integration"]), 403, "forbidden")
