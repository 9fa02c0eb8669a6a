"""The members area of the API: enrol, bind, identify (each refusing bad input with its code and
path, changing nothing), and the reads of a member (profile, balances, lots, tier history,
history with explanations, lottery entries, referral code), scoped to the caller's club and, for
a member token, to its own member. Card numbers never come back."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from service.builders import bad_luhn_card, card_number, club_card, mobile, national_code

from ..conftest import Api

COUNTED = ("members", "member_identifiers", "operations", "member_group_members", "referral_codes", "audit_log")


def counts(api: Api) -> dict[str, int]:
    with api.service.reading() as tx:
        return {t: int(tx.one(f"SELECT COUNT(*) FROM {t}")[0]) for t in COUNTED}


def enrol(api: Api, key: str, n: int, **extra: Any) -> Any:
    return api.post("/members", key, {"identifiers": [{"kind": "mobile", "value": mobile(3_000_000 + n)}], **extra})


def refused(r: Any, status: int, code: str, path: str | None) -> None:
    assert r.status_code == status, r.json
    assert r.json["error"]["code"] == code and r.json["error"]["path"] == path, r.json


def database_text(api: Api) -> str:
    with api.service.reading() as tx:
        return json.dumps([[list(r) for r in tx.all(f"SELECT * FROM {t}")] for t in ("member_identifiers", "operations", "api_requests",
                                                                                      "audit_log")], ensure_ascii=False, default=str)


# --- enrol ---------------------------------------------------------------------------------


def test_enrolment_masks_the_card_makes_an_account_number_and_is_exactly_once(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    card = card_number(41)
    body = {"identifiers": [{"kind": "mobile", "value": mobile(3_000_001)}, {"kind": "card", "value": card}],
            "name_fa": "مریم", "groups": [api.a.member_group_id]}
    first = api.post("/members", key, body, idem="enrol-1")
    assert first.status_code == 201, first.json
    shown = {i["kind"]: i["display"] for i in first.json["identifiers"]}
    assert shown["card"] == "*" * 12 + card[-4:] and shown["mobile"] == "+98" + mobile(3_000_001)[1:]
    assert len(shown["account"]) == 12 and shown["account"].isdigit()
    assert card not in first.get_data(as_text=True) and card not in database_text(api)
    before = counts(api)
    again = api.post("/members", key, body, idem="enrol-1")
    assert again.status_code == 201 and again.json["replayed"] is True and again.json["member_id"] == first.json["member_id"]
    assert counts(api) == before
    other = api.post("/members", key, {**body, "name_fa": "دیگری"}, idem="enrol-1")
    refused(other, 409, "exists_with_different_request", "idem_key")
    profile = api.get(f"/members/{first.json['member_id']}", key).json
    assert profile["name_fa"] == "مریم" and [g["id"] for g in profile["groups"]] == [api.a.member_group_id]
    assert profile["account_number"] == shown["account"] and profile["enrolled_via"] == "api"


def test_a_merchant_key_is_recorded_as_the_enrolling_merchant_and_a_sub_club_may_be_named(api: Api) -> None:
    r = enrol(api, api.keys_of(api.a)["merchant"], 2, club_id=api.a.sub_club_id)
    assert r.status_code == 201, r.json
    with api.service.reading() as tx:
        row = tx.one("SELECT club_id, enrolled_by_merchant_id FROM members WHERE id = ?", (r.json["member_id"],))
    assert tuple(row) == (api.a.sub_club_id, api.a.merchants["cafe"])


def test_enrolment_refuses_bad_input_with_its_code_and_path_and_changes_nothing(api: Api) -> None:
    key = api.keys_of(api.a)["management"]
    taken = mobile(2_000_001)  # the fixture's member of club A
    before = counts(api)
    cases = [
        ({"identifiers": [{"kind": "mobile", "value": "0812"}]}, 400, "invalid_mobile", "identifiers.0.value"),
        ({"identifiers": [{"kind": "national_code", "value": national_code(1)}, {"kind": "card", "value": bad_luhn_card(1)}]},
         400, "invalid_card_number_checksum", "identifiers.1.value"),
        ({"identifiers": [{"kind": "mobile", "value": taken}]}, 409, "identifier_taken", "identifiers.0.value"),
        ({"identifiers": [{"kind": "mobile", "value": mobile(3_000_010)}, {"kind": "mobile", "value": mobile(3_000_011)}]},
         400, "field_invalid", "identifiers.1.kind"),
        ({"identifiers": [{"kind": "id", "value": "7"}]}, 400, "field_invalid", "identifiers.0.kind"),
        ({"identifiers": []}, 400, "field_invalid", "identifiers"),
        ({"name_fa": "بی‌شناسه"}, 400, "field_required", "identifiers"),
        ({"identifiers": [{"kind": "mobile", "value": mobile(3_000_012)}], "groups": [api.b.member_group_id]}, 422, "foreign_reference", "groups.0"),
        ({"identifiers": [{"kind": "mobile", "value": mobile(3_000_013)}], "club_id": api.b.club_id}, 404, "unknown_club", "club_id"),
        ({"identifiers": [{"kind": "mobile", "value": mobile(3_000_014)}], "referred_by_code": "NOSUCH22"}, 400, "field_invalid",
         "referred_by_code"),
        ({"identifiers": [{"kind": "mobile", "value": mobile(3_000_015)}], "nickname": "x"}, 400, "field_invalid", "nickname"),
    ]
    for body, status, code, path in cases:
        refused(api.post("/members", key, body), status, code, path)
    assert counts(api) == before


def test_a_member_token_or_a_platform_key_enrols_binds_and_identifies_no_one(api: Api) -> None:
    token = api.keys_of(api.a)["member"]
    own = api.members[api.a.club_id]
    before = counts(api)
    refused(enrol(api, token, 20), 403, "forbidden", None)
    refused(api.post(f"/members/{own}/identifiers", token, {"kind": "mobile", "value": mobile(3_000_020)}), 403, "forbidden", None)
    refused(api.post("/members/identify", token, {"member": {"kind": "id", "value": str(own)}}), 403, "forbidden", None)
    refused(enrol(api, api.keys["platform"], 21), 403, "forbidden", None)
    assert counts(api) == before


# --- referral codes ------------------------------------------------------------------------


def test_a_referral_code_is_made_once_and_names_the_introducer_at_enrolment(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    introducer = api.members[api.a.club_id]
    first = api.get(f"/members/{introducer}/referral-code", api.keys_of(api.a)["member"])
    assert first.status_code == 200 and len(first.json["code"]) == 8
    code = first.json["code"]
    assert api.get(f"/members/{introducer}/referral-code", key).json["code"] == code
    typed = code[:4].lower() + "-" + code[4:]
    newcomer = enrol(api, key, 30, referred_by_code=typed)
    assert newcomer.status_code == 201, newcomer.json
    with api.service.reading() as tx:
        assert tx.one("SELECT referrer_id FROM members WHERE id = ?", (newcomer.json["member_id"],))[0] == introducer
    points = api.get(f"/members/{introducer}/balances", key).json["points"]
    api.a.buy(newcomer.json["member_id"], 1_000_000)  # the club's "referral" rule: a point per 100,000 rials to the introducer
    assert api.get(f"/members/{introducer}/balances", key).json["points"] == points + 10
    refused(api.get(f"/members/{introducer}/referral-code", api.keys_of(api.b)["management"]), 404, "unknown_member", "member_id")
    # Club B's enrolment does not know club A's codes.
    refused(enrol(api, api.keys_of(api.b)["integration"], 31, referred_by_code=code), 400, "field_invalid", "referred_by_code")


# --- bind and identify ---------------------------------------------------------------------


def test_binding_a_card_keeps_only_its_mask_and_the_member_is_then_identified_by_it(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    member = api.members[api.a.club_id]
    card = card_number(51)
    r = api.post(f"/members/{member}/identifiers", key, {"kind": "card", "value": card}, idem="bind-1")
    assert r.status_code == 201, r.json
    assert r.json["display"] == "*" * 12 + card[-4:] and r.json["op_id"]
    again = api.post(f"/members/{member}/identifiers", key, {"kind": "card", "value": card}, idem="bind-1")
    assert again.json["replayed"] is True and again.json["op_id"] == r.json["op_id"]
    found = api.post("/members/identify", key, {"member": {"kind": "card", "value": card}})
    assert found.status_code == 200 and found.json["member_id"] == member
    assert "*" * 12 + card[-4:] in [i["display"] for i in found.json["identifiers"]]
    assert card not in found.get_data(as_text=True) and card not in database_text(api)
    by_mobile = api.post("/members/identify", api.keys_of(api.a)["management"], {"member": {"kind": "mobile", "value": mobile(2_000_001)}})
    assert by_mobile.json["member_id"] == member
    assert api.post("/members/identify", key, {"member": {"kind": "club_card", "value": club_card(5)}}).status_code == 404


def test_binding_refuses_bad_input_and_another_members_identifier_changing_nothing(api: Api) -> None:
    key = api.keys_of(api.a)["management"]
    member = api.members[api.a.club_id]
    other = enrol(api, key, 40).json["member_id"]
    before = counts(api)
    refused(api.post(f"/members/{member}/identifiers", key, {"kind": "card", "value": bad_luhn_card(2)}), 400,
            "invalid_card_number_checksum", "value")
    refused(api.post(f"/members/{member}/identifiers", key, {"kind": "mobile", "value": mobile(3_000_040)}), 409, "identifier_taken", "value")
    refused(api.post(f"/members/{member}/identifiers", key, {"kind": "fax", "value": "1"}), 400, "field_invalid", "kind")
    refused(api.post(f"/members/{api.members[api.b.club_id]}/identifiers", key, {"kind": "mobile", "value": mobile(3_000_041)}), 404,
            "unknown_member", "member_id")
    refused(api.post(f"/members/{other}/identifiers", api.keys_of(api.b)["management"], {"kind": "mobile", "value": mobile(3_000_042)}),
            404, "unknown_member", "member_id")
    refused(api.post(f"/members/{member}/identifiers", key, {"kind": "mobile", "value": mobile(3_000_043)}, idem=None), 400,
            "missing_idempotency_key", "Idempotency-Key")
    assert counts(api) == before
    same = api.post(f"/members/{member}/identifiers", key, {"kind": "mobile", "value": mobile(2_000_001)})
    assert same.status_code == 201 and same.json["op_id"] is None  # already the member's: nothing changes
    assert counts(api) == before


def test_an_integration_key_binds_with_the_proof_the_club_asks_for_and_a_management_key_as_operator(api: Api) -> None:
    member = api.members[api.a.club_id]
    api.a.admin.update_settings(api.a.club_id, {"verification": {"redeem": [], "bind": ["pin"]}}, actor="test", reason="tests")
    api.service.set_pin(api.a.club_id, member, "4321", actor="test")
    key = api.keys_of(api.a)["integration"]
    before = counts(api)
    body = {"kind": "mobile", "value": mobile(3_000_060)}
    refused(api.post(f"/members/{member}/identifiers", key, body), 422, "verification_required", "proof")
    refused(api.post(f"/members/{member}/identifiers", key, {**body, "proof": {"pin": "1111"}}), 422, "pin_incorrect", "proof.pin")
    assert counts(api) == before
    assert api.post(f"/members/{member}/identifiers", key, {**body, "proof": {"pin": "4321"}}).status_code == 201
    operator = api.post(f"/members/{member}/identifiers", api.keys_of(api.a)["management"], {"kind": "mobile", "value": mobile(3_000_061)})
    assert operator.status_code == 201, operator.json
    with api.service.reading() as tx:
        actors = [r[0] for r in tx.all("SELECT actor FROM audit_log WHERE action = 'bind_identifier' ORDER BY id")]
    assert actors[-1].startswith("api:")


def test_identify_refuses_bad_input_and_another_clubs_members(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    refused(api.post("/members/identify", key, {"member": {"kind": "card", "value": "1234"}}), 400, "invalid_card_number_format",
            "member.value")
    refused(api.post("/members/identify", key, {"member": {"kind": "mobile", "value": mobile(2_000_002)}}), 404, "unknown_member", "member")
    refused(api.post("/members/identify", key, {"member": {"kind": "id", "value": str(api.members[api.b.club_id])}}), 404,
            "unknown_member", "member")
    refused(api.post("/members/identify", key, {"member": {"kind": "email"}}), 400, "field_invalid", "member.kind")


# --- reads ---------------------------------------------------------------------------------


def test_the_profile_shows_masked_identifiers_and_is_read_only_by_the_members_club_and_token(api: Api) -> None:
    member = api.members[api.a.club_id]
    token = api.keys_of(api.a)["member"]
    api.post(f"/members/{member}/identifiers", api.keys_of(api.a)["management"], {"kind": "national_code", "value": national_code(7)})
    r = api.get(f"/members/{member}", token)
    assert r.status_code == 200, r.json
    shown = {i["kind"]: i["display"] for i in r.json["identifiers"]}
    code = national_code(7)
    assert shown["national_code"] == code[:3] + "****" + code[-3:] and code not in r.get_data(as_text=True)
    assert r.json["tier"] is None and r.json["created"]["at_jalali"].startswith("1404-02-24")
    other = enrol(api, api.keys_of(api.a)["integration"], 50).json["member_id"]
    refused(api.get(f"/members/{other}", token), 404, "unknown_member", "member_id")
    for kind in ("management", "integration", "merchant", "member"):
        refused(api.get(f"/members/{member}", api.keys_of(api.b)[kind]), 404, "unknown_member", "member_id")
    refused(api.get("/members/999999", api.keys_of(api.a)["management"]), 404, "unknown_member", "member_id")
    refused(api.get(f"/members/{member}", api.keys["platform"]), 403, "forbidden", None)


def test_balances_and_lots_follow_a_purchase_with_their_expiry(api: Api) -> None:
    member = api.members[api.a.club_id]
    key = api.keys_of(api.a)["integration"]
    empty = api.get(f"/members/{member}/balances", key).json
    assert empty == {"member_id": member, "points": 0, "credit_held_rial": 0, "accounts": []}
    api.a.buy(member, 2_000_000)
    api.a.buy(member, 3_000_000, merchant="bookshop")  # the sub-club's merchant credit, 60 days
    got = api.get(f"/members/{member}/balances", api.keys_of(api.a)["member"]).json
    kinds = {a["kind"]: a for a in got["accounts"]}
    assert got["points"] == kinds["points"]["balance"] == 500
    assert kinds["merchant_credit"]["scope"] == f"merchant:{api.a.merchants['bookshop']}" and got["credit_held_rial"] == 300_000
    assert kinds["lottery_entries"]["unit"] == "entry" and kinds["lottery_entries"]["balance"] == 5
    page = api.get(f"/members/{member}/lots", key, limit=1).json
    assert len(page["items"]) == 1 and page["next_cursor"]
    first = page["items"][0]
    assert first["kind"] == "merchant_credit" and first["remaining"] == 300_000 and first["expires"]["at"].startswith("2025-07-13")
    rest: list[Any] = []
    cursor = page["next_cursor"]
    while cursor:
        nxt = api.get(f"/members/{member}/lots", key, limit=1, cursor=cursor).json
        rest += nxt["items"]
        cursor = nxt["next_cursor"]
    lots = [first] + rest
    assert len({lot["lot_id"] for lot in lots}) == len(lots) == 5  # points twice, the credit, lottery entries twice
    assert [lot["expires"] is None for lot in lots] == [False, False, False, True, True]  # soonest to expire first, none last
    refused(api.get(f"/members/{member}/lots", key, cursor="made-up"), 400, "invalid_cursor", "cursor")
    refused(api.get(f"/members/{member}/lots", key, limit=0), 400, "field_invalid", "limit")
    refused(api.get(f"/members/{member}/balances", api.keys_of(api.b)["integration"]), 404, "unknown_member", "member_id")


def test_history_is_newest_first_with_each_decisions_explanation_and_paginated(api: Api) -> None:
    member = api.members[api.a.club_id]
    key = api.keys_of(api.a)["management"]
    api.a.buy(member, 2_000_000)
    api.a.buy(member, 500_000, merchant="restaurant")
    page = api.get(f"/members/{member}/history", key, limit=2).json
    newest, purchase = page["items"]
    assert newest["op_id"] > purchase["op_id"] and newest["amount_rial"] == 500_000
    assert purchase["kind"] == "purchase" and purchase["discount_rial"] == 100_000 and purchase["payable_rial"] == 1_900_000
    assert "One point per 10,000 rials: 200 points" in purchase["explanation_en"]
    assert any("امتیاز" in line for line in purchase["explanation_fa"]) and purchase["at"]["at_jalali"]
    rest = api.get(f"/members/{member}/history", key, limit=2, cursor=page["next_cursor"]).json
    assert [i["kind"] for i in rest["items"]] == ["enroll"] and rest["next_cursor"] is None
    refused(api.get(f"/members/{member}/history", key, cursor="!!"), 400, "invalid_cursor", "cursor")
    refused(api.get(f"/members/{member}/history", api.keys_of(api.b)["management"]), 404, "unknown_member", "member_id")


def test_tier_history_and_lottery_entries_with_the_draw(api: Api) -> None:
    member = api.members[api.a.club_id]
    key = api.keys_of(api.a)["integration"]
    api.a.buy(member, 6_000_000)
    api.service.close_period(api.a.club_id, api.a.clock.now + 10, actor="test")
    moves = api.get(f"/members/{member}/tier-history", api.keys_of(api.a)["member"]).json
    assert [(m["from_tier"], m["to_tier"], m["reason"]) for m in moves["items"]] == [(None, "gold", "up")]
    assert api.get(f"/members/{member}", key).json["tier"] == "gold"
    entries = api.get(f"/members/{member}/lottery-entries", key).json["items"]
    assert [(e["lottery_id"], e["entries"], e["status"], e["won"]) for e in entries] == [(api.a.lottery_id, 6, "open", [])]
    api.service.draw_lottery(api.a.club_id, api.a.lottery_id, api.a.lottery_seed, actor="test")
    drawn = api.get(f"/members/{member}/lottery-entries", key).json["items"][0]
    assert drawn["status"] == "drawn" and drawn["won"][0]["rank"] == 1 and drawn["drawn"] is not None
    refused(api.get(f"/members/{member}/tier-history", api.keys_of(api.b)["management"]), 404, "unknown_member", "member_id")
    refused(api.get(f"/members/{member}/lottery-entries", key, cursor="x"), 400, "invalid_cursor", "cursor")


def test_a_stored_card_is_only_a_keyed_hash(api: Api) -> None:
    card = card_number(61)
    r = api.post("/members", api.keys_of(api.a)["integration"], {"identifiers": [{"kind": "card", "value": card}]})
    with api.service.reading() as tx:
        lookup = tx.one("SELECT lookup FROM member_identifiers WHERE member_id = ? AND kind = 'card'", (r.json["member_id"],))[0]
    assert lookup != card and lookup != hashlib.sha256(card.encode()).hexdigest()
