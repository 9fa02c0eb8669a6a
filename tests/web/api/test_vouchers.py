"""Vouchers over HTTP (kimia/web/api/routes/vouchers.py): the club's offers, buying one (once per
key, with a member token for oneself), a member's vouchers with their codes and state, and a
voucher used in a purchase end to end (once only)."""

from __future__ import annotations

from typing import Any

from service.builders import dump, points_of, scalar

from ..conftest import Api


def member_of(api: Api) -> int:
    return api.members[api.a.club_id]


def earn(api: Api, amount_rial: int = 5_000_000) -> int:
    """Points for the club's first member, from a purchase; the points they then have."""
    api.a.buy(member_of(api), amount_rial)
    return points_of(api.service, member_of(api))


def refused(response: Any, status: int, code: str, path: str | None = None) -> None:
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code, response.json
    if path is not None:
        assert response.json["error"]["path"] == path, response.json


def test_the_offers_are_the_callers_clubs_for_every_kind_of_key(api: Api) -> None:
    free = api.a.admin.create_voucher_template(api.a.club_id, "هدیه", discount_rial=10_000, actor="test")  # no price: not sold
    for kind in ("management", "integration", "merchant", "member"):
        r = api.get("/voucher-offers", api.keys_of(api.a)[kind])
        assert r.status_code == 200, r.json
        ids = [o["template_id"] for o in r.json["items"]]
        assert ids == [api.a.voucher_template_id], (kind, ids)
    offer = api.get("/voucher-offers", api.keys_of(api.a)["member"]).json["items"][0]
    assert offer["price_points"] == 50 and offer["discount_rial"] == 100_000 and offer["valid_days"] == 30
    assert free not in [o["template_id"] for o in api.get("/voucher-offers", api.keys_of(api.b)["member"]).json["items"]]
    assert [o["template_id"] for o in api.get("/voucher-offers", api.keys_of(api.b)["integration"]).json["items"]] == [
        api.b.voucher_template_id]
    refused(api.get("/voucher-offers", api.keys["platform"]), 403, "forbidden")


def test_a_member_buys_a_voucher_once_per_key_with_their_token(api: Api) -> None:
    points = earn(api)
    token = api.keys_of(api.a)["member"]
    path = f"/members/{member_of(api)}/vouchers"
    bought = api.post(path, token, {"template_id": api.a.voucher_template_id}, idem="v-1")
    assert bought.status_code == 201 and bought.json["kind"] == "voucher_purchase", bought.json
    [code] = bought.json["vouchers"]
    assert points_of(api.service, member_of(api)) == points - 50
    before = dump(api.service)
    again = api.post(path, token, {"template_id": api.a.voucher_template_id}, idem="v-1")
    assert again.json["replayed"] is True and again.json["vouchers"] == [code]
    other = api.a.admin.create_voucher_template(api.a.club_id, "دیگر", discount_rial=5_000, price_points=10, actor="test")
    refused(api.post(path, token, {"template_id": other}, idem="v-1"), 409, "exists_with_different_request")
    assert dump(api.service) == before
    listed = api.get(path, token).json["items"]
    assert [(v["code"], v["state"], v["template_id"]) for v in listed] == [(code, "active", api.a.voucher_template_id)]
    assert listed[0]["valid_to"]["at_jalali"]


def test_buying_refusals_change_nothing(api: Api) -> None:
    member = member_of(api)
    path = f"/members/{member}/vouchers"
    key = api.keys_of(api.a)["integration"]
    other_member = api.a.enroll()
    before = dump(api.service)
    refused(api.post(path, key, {"template_id": api.a.voucher_template_id}), 422, "below_threshold")  # no points yet
    refused(api.post(path, key, {"template_id": api.b.voucher_template_id}), 404, "unknown_voucher_template")
    refused(api.post(path, key, {"template_id": 0}), 400, "field_invalid", "template_id")
    refused(api.post(path, key, {}), 400, "field_required", "template_id")
    refused(api.post(f"/members/{other_member}/vouchers", api.keys_of(api.a)["member"], {"template_id": api.a.voucher_template_id}),
            404, "unknown_member", "member_id")
    refused(api.post(path, api.keys_of(api.b)["integration"], {"template_id": api.a.voucher_template_id}), 404, "unknown_member")
    refused(api.post(path, api.keys_of(api.b)["member"], {"template_id": api.a.voucher_template_id}), 404, "unknown_member")
    assert dump(api.service) == before


def test_a_voucher_is_used_in_a_purchase_once(api: Api) -> None:
    earn(api)
    key = api.keys_of(api.a)["integration"]
    member = member_of(api)
    code = api.post(f"/members/{member}/vouchers", key, {"template_id": api.a.voucher_template_id}).json["vouchers"][0]
    purchase = {"merchant_id": api.a.merchants["bookshop"], "member": {"kind": "id", "value": str(member)}, "amount_rial": 600_000,
                "voucher_code": code}
    quoted = api.post("/purchases/quote", key, purchase).json
    assert quoted["discount_rial"] == 100_000, quoted
    paid = api.post("/purchases", key, purchase, idem="with-voucher")
    assert paid.status_code == 201 and paid.json["discount_rial"] == 100_000 and paid.json["payable_rial"] == 500_000, paid.json
    [voucher] = api.get(f"/members/{member}/vouchers", key).json["items"]
    assert voucher["state"] == "used" and voucher["used_op_id"] == paid.json["op_id"]
    assert api.post("/purchases", key, purchase, idem="with-voucher").json["replayed"] is True
    before = dump(api.service)
    refused(api.post("/purchases", key, purchase), 409, "voucher_already_used")
    assert dump(api.service) == before
    assert scalar(api.service, "SELECT COUNT(*) FROM vouchers WHERE used_op_id IS NOT NULL") == 1


def test_a_members_vouchers_by_state_and_page_and_only_to_whom_may_read_them(api: Api) -> None:
    earn(api, 20_000_000)
    key = api.keys_of(api.a)["management"]
    member = member_of(api)
    path = f"/members/{member}/vouchers"
    codes = [api.post(path, key, {"template_id": api.a.voucher_template_id}).json["vouchers"][0] for _ in range(3)]
    first = api.get(path, key, limit=2).json
    assert [v["code"] for v in first["items"]] == codes[:2] and first["next_cursor"]
    rest = api.get(path, key, limit=2, cursor=first["next_cursor"]).json
    assert [v["code"] for v in rest["items"]] == codes[2:] and rest["next_cursor"] is None
    refused(api.get(path, api.keys_of(api.b)["management"]), 404, "unknown_member", "member_id")
    refused(api.get(path, api.keys_of(api.b)["member"]), 404, "unknown_member", "member_id")
    refused(api.get(f"/members/{api.a.enroll()}/vouchers", api.keys_of(api.a)["member"]), 404, "unknown_member")
    api.a.clock.advance(days=31)
    assert [v["state"] for v in api.get(path, key).json["items"]] == ["expired"] * 3
    assert api.get(path, key, state="active").json["items"] == []
    assert len(api.get(path, key, state="expired").json["items"]) == 3
    refused(api.get(path, key, state="lost"), 400, "field_invalid", "state")


def test_a_voucher_is_only_its_members_and_only_where_it_is_valid(api: Api) -> None:
    earn(api)
    key = api.keys_of(api.a)["integration"]
    member = member_of(api)
    cafe_only = api.a.admin.create_voucher_template(api.a.club_id, "کافه", discount_rial=20_000, price_points=10,
                                                    merchants=[api.a.merchants["cafe"]], actor="test")
    code = api.post(f"/members/{member}/vouchers", key, {"template_id": cafe_only}).json["vouchers"][0]
    other = api.a.enroll()
    before = dump(api.service)
    for merchant, who, error in (("bookshop", member, "voucher_not_valid_at_merchant"), ("cafe", other, "voucher_not_found")):
        r = api.post("/purchases", key, {"merchant_id": api.a.merchants[merchant], "member": {"kind": "id", "value": str(who)},
                                         "amount_rial": 300_000, "voucher_code": code})
        assert r.status_code in (404, 422) and r.json["error"]["code"] == error, r.json
    assert dump(api.service) == before
    paid = api.post("/purchases", key, {"merchant_id": api.a.merchants["cafe"], "member": {"kind": "id", "value": str(member)},
                                        "amount_rial": 300_000, "voucher_code": code})
    assert paid.status_code == 201 and paid.json["discount_rial"] == 15_000 + 20_000, paid.json  # the food court's 5% and the voucher
    [voucher] = api.get(f"/members/{member}/vouchers", key).json["items"]
    assert voucher["state"] == "used" and voucher["used_op_id"] == paid.json["op_id"]
