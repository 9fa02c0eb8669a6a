"""The value operations beside a purchase over HTTP (kimia/web/api/routes/payments.py): a quote that
writes nothing, holds completed and cancelled, refunds full and partial (by op id, RRN or the
caller's reference), reversals by Idempotency-Key, points converted to credit, one-time codes and
the proof they give a purchase. Every retry gives the first answer and posts nothing twice; every
refusal has its code and changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kimia.service.verify import FileNotifier
from service.builders import dump, member_balances, points_of

from ..conftest import Api


def member_of(api: Api) -> int:
    return api.members[api.a.club_id]


def body(api: Api, amount: int = 1_000_000, **extra: Any) -> dict[str, Any]:
    return {"merchant_id": api.a.merchants["cafe"], "member": {"kind": "id", "value": str(member_of(api))}, "amount_rial": amount,
            **extra}


def gift(api: Api, amount: int = 200_000) -> None:
    """Credit the club's first member may spend anywhere in the club."""
    api.service.charge(api.a.club_id, member_of(api), idem_key=api.a.key("gift"), kind="gift_credit", amount_rial=amount,
                       source={"type": "club", "id": api.a.club_id}, actor="test", reason="gift")


def credit_of(api: Api, member: int) -> int:
    return sum(v for k, v in member_balances(api.service, member).items() if k != "points")


def refused(api: Api, response: Any, status: int, code: str, path: str | None = None) -> None:
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code, response.json
    if path is not None:
        assert response.json["error"]["path"] == path, response.json


def test_a_quote_explains_and_writes_nothing_and_a_retry_quotes_again(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    before = dump(api.service)
    first = api.post("/purchases/quote", key, body(api), idem="q-1")
    assert first.status_code == 200, first.json
    assert first.json["status"] == "quote" and first.json["op_id"] == 0 and first.json["points_earned"] > 0
    assert first.json["explanation_en"] and first.json["discount_rial"] == 50_000
    assert {"code", "message_en", "message_fa"} <= set(first.json["explanation"][0])
    assert "food-court-5" in [line.get("rule_id") for line in first.json["explanation"]]
    again = api.post("/purchases/quote", key, body(api, 2_000_000), idem="q-1")  # nothing kept: quoted anew
    assert again.status_code == 200 and again.json["amount_rial"] == 2_000_000 and again.json["replayed"] is False
    assert dump(api.service) == before
    refused(api, api.post("/purchases/quote", key, {**body(api), "merchant_id": api.b.merchants["cafe"]}), 404, "unknown_merchant",
            "merchant_id")
    refused(api, api.post("/purchases/quote", api.keys_of(api.a)["member"], body(api)), 403, "forbidden")


def test_a_hold_is_completed_once_and_then_is_no_longer_pending(api: Api) -> None:
    gift(api)
    key = api.keys_of(api.a)["integration"]
    held = api.post("/holds", key, body(api, redeem_credit_rial=30_000), idem="h-1")
    assert held.status_code == 201 and held.json["status"] == "held", held.json
    hold_id = held.json["hold_id"]
    assert member_balances(api.service, member_of(api))["gift_credit"] == 170_000  # held
    assert api.post("/holds", key, body(api, redeem_credit_rial=30_000), idem="h-1").json["replayed"] is True
    refused(api, api.post("/holds", key, body(api, redeem_credit_rial=40_000), idem="h-1"), 409, "exists_with_different_request")
    refused(api, api.post("/holds", key, body(api, 2_000_000, redeem_credit_rial=30_000), idem="h-1"), 409,
            "exists_with_different_amount")
    refused(api, api.post("/holds", key, body(api, redeem_credit_rial=10**9)), 422, "insufficient_balance")
    assert member_balances(api.service, member_of(api))["gift_credit"] == 170_000
    path = f"/holds/{hold_id}/complete"
    done = api.post(path, key, {"merchant_id": api.a.merchants["cafe"], "reference": "BANK-1"}, idem="c-1")
    assert done.status_code == 200 and done.json["hold_id"] == hold_id and done.json["points_earned"] > 0, done.json
    points = points_of(api.service, member_of(api))
    before = dump(api.service)
    again = api.post(path, key, {"merchant_id": api.a.merchants["cafe"], "reference": "BANK-1"}, idem="c-1")
    assert again.json["replayed"] is True and again.json["op_id"] == done.json["op_id"]
    refused(api, api.post(path, key, {"merchant_id": api.a.merchants["cafe"], "reference": "BANK-2"}, idem="c-1"), 409,
            "exists_with_different_request")
    refused(api, api.post(path, key, {"merchant_id": api.a.merchants["cafe"]}), 409, "hold_not_pending")
    refused(api, api.post(f"/holds/{hold_id}/cancel", key, {"merchant_id": api.a.merchants["cafe"]}), 409, "hold_not_pending")
    refused(api, api.post(path, key, {}), 400, "field_required", "merchant_id")
    assert dump(api.service) == before and points_of(api.service, member_of(api)) == points


def test_a_cancelled_hold_gives_back_what_it_held(api: Api) -> None:
    gift(api)
    key = api.keys_of(api.a)["management"]
    hold_id = api.post("/holds", key, body(api, redeem_credit_rial=50_000)).json["hold_id"]
    assert member_balances(api.service, member_of(api))["gift_credit"] == 150_000
    cancelled = api.post(f"/holds/{hold_id}/cancel", key, {"merchant_id": api.a.merchants["cafe"]}, idem="x-1")
    assert cancelled.status_code == 200, cancelled.json
    assert member_balances(api.service, member_of(api))["gift_credit"] == 200_000
    before = dump(api.service)
    assert api.post(f"/holds/{hold_id}/cancel", key, {"merchant_id": api.a.merchants["cafe"]}, idem="x-1").json["replayed"] is True
    refused(api, api.post(f"/holds/{hold_id}/cancel", key, {"merchant_id": api.a.merchants["cafe"]}), 409, "hold_not_pending")
    refused(api, api.post(f"/holds/{hold_id}/complete", key, {"merchant_id": api.a.merchants["cafe"]}), 409, "hold_not_pending")
    refused(api, api.post("/holds/999999/cancel", key, {"merchant_id": api.a.merchants["cafe"]}), 404, "unknown_operation")
    assert dump(api.service) == before


def test_a_merchant_bound_key_finds_only_its_merchants_holds_and_purchases(api: Api) -> None:
    bound = api.keys_of(api.a)["merchant"]  # the cafe's
    member = member_of(api)
    hold_id = api.service.hold(api.a.request(member, 500_000, merchant="restaurant"))["hold_id"]
    sale = api.a.buy(member, 500_000, merchant="restaurant")["op_id"]
    before = dump(api.service)
    refused(api, api.post(f"/holds/{hold_id}/complete", bound, {}), 404, "unknown_operation")
    refused(api, api.post(f"/holds/{hold_id}/cancel", bound, {}), 404, "unknown_operation")
    refused(api, api.post("/refunds", bound, {"op_id": sale}), 404, "unknown_operation")
    refused(api, api.post("/refunds", bound, {"op_id": sale, "merchant_id": api.a.merchants["restaurant"]}), 403, "forbidden")
    # Club B's keys do not find A's hold even naming A's merchant.
    refused(api, api.post(f"/holds/{hold_id}/cancel", api.keys_of(api.b)["integration"], {"merchant_id": api.a.merchants["restaurant"]}),
            404, "unknown_merchant", "merchant_id")
    assert dump(api.service) == before
    own = api.post("/holds", bound, {k: v for k, v in body(api).items() if k != "merchant_id"}).json["hold_id"]
    assert api.post(f"/holds/{own}/complete", bound, {}).status_code == 200


def test_refunds_partial_then_full_by_op_id_rrn_or_reference(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    cafe = api.a.merchants["cafe"]
    sale = api.post("/purchases", key, body(api, 1_000_000, reference="INV-7")).json
    assert sale["rrn"] == "INV-7"
    part = api.post("/refunds", key, {"merchant_id": cafe, "op_id": sale["op_id"], "amount_rial": 400_000}, idem="r-1")
    assert part.status_code == 201 and part.json["kind"] == "refund" and part.json["original_op_id"] == sale["op_id"], part.json
    assert part.json["amount_rial"] == -400_000 or part.json["amount_rial"] == 400_000
    before = dump(api.service)
    again = api.post("/refunds", key, {"merchant_id": cafe, "op_id": sale["op_id"], "amount_rial": 400_000}, idem="r-1")
    assert again.json["replayed"] is True and again.json["op_id"] == part.json["op_id"]
    refused(api, api.post("/refunds", key, {"merchant_id": cafe, "op_id": sale["op_id"], "amount_rial": 300_000}, idem="r-1"), 409,
            "exists_with_different_amount")
    refused(api, api.post("/refunds", key, {"merchant_id": cafe, "reference": "INV-7", "amount_rial": 600_001}), 422,
            "refund_exceeds_purchase")
    refused(api, api.post("/refunds", key, {"merchant_id": cafe, "reference": "NO-SUCH"}), 404, "unknown_operation")
    refused(api, api.post("/refunds", key, {"merchant_id": cafe}), 400, "invalid_request", "op_id")
    refused(api, api.post("/refunds", key, {"merchant_id": cafe, "op_id": sale["op_id"], "amount_rial": -1}), 400, "field_invalid",
            "amount_rial")
    assert dump(api.service) == before
    rest = api.post("/refunds", key, {"merchant_id": cafe, "reference": "INV-7"})  # the caller's own reference: what is left
    assert rest.status_code == 201 and rest.json["kind"] == "reversal", rest.json
    before = dump(api.service)
    refused(api, api.post("/refunds", key, {"merchant_id": cafe, "op_id": sale["op_id"]}), 409, "already_reversed")
    assert dump(api.service) == before


def test_a_refund_by_the_rrn_kimia_gave(api: Api) -> None:
    key = api.keys_of(api.a)["management"]
    sale = api.post("/purchases", key, body(api, 800_000)).json
    points = points_of(api.service, member_of(api))
    done = api.post("/refunds", key, {"merchant_id": api.a.merchants["cafe"], "reference": sale["rrn"]})
    assert done.status_code == 201 and done.json["original_op_id"] == sale["op_id"], done.json
    assert points_of(api.service, member_of(api)) == points - sale["points_earned"]


def test_a_request_is_reversed_by_its_idempotency_key(api: Api) -> None:
    gift(api)
    key = api.keys_of(api.a)["integration"]
    cafe = api.a.merchants["cafe"]
    sale = api.post("/purchases", key, body(api, 500_000, redeem_credit_rial=20_000), idem="sale-1").json
    assert member_balances(api.service, member_of(api))["gift_credit"] == 180_000
    rev = api.post("/reversals", key, {"merchant_id": cafe, "idempotency_key": "sale-1"}, idem="rev-1")
    assert rev.status_code == 201 and rev.json["original_found"] is True and rev.json["original_op_id"] == sale["op_id"], rev.json
    assert member_balances(api.service, member_of(api))["gift_credit"] == 200_000
    before = dump(api.service)
    assert api.post("/reversals", key, {"merchant_id": cafe, "idempotency_key": "sale-1"}, idem="rev-1").json["replayed"] is True
    # (the service compares the reversal's amount first: another original under the same key reads as another amount)
    refused(api, api.post("/reversals", key, {"merchant_id": cafe, "idempotency_key": "sale-2"}, idem="rev-1"), 409,
            "exists_with_different_amount")
    # The sale sent again under its key gets its first answer and posts nothing (it stays reversed).
    assert api.post("/purchases", key, body(api, 500_000, redeem_credit_rial=20_000), idem="sale-1").json["replayed"] is True
    refused(api, api.post("/reversals", key, {"merchant_id": cafe, "idempotency_key": ""}), 400, "field_invalid", "idempotency_key")
    assert dump(api.service) == before
    # Another key's requests are its own: the management key reversing "sale-1" names nothing of the integration's.
    other = api.post("/reversals", api.keys_of(api.a)["management"], {"merchant_id": cafe, "idempotency_key": "sale-1"})
    assert other.json["original_found"] is False and member_balances(api.service, member_of(api))["gift_credit"] == 200_000


def test_a_reversal_before_its_original_makes_the_original_never_post(api: Api) -> None:
    key = api.keys_of(api.a)["merchant"]
    rev = api.post("/reversals", key, {"idempotency_key": "lost-1"})
    assert rev.status_code == 201 and rev.json["status"] == "void" and rev.json["original_found"] is False, rev.json
    before = dump(api.service)
    late = api.post("/purchases", key, {k: v for k, v in body(api).items() if k != "merchant_id"}, idem="lost-1")
    refused(api, late, 409, "already_reversed")
    assert dump(api.service) == before


def test_a_hold_is_reversed_by_its_key(api: Api) -> None:
    gift(api)
    key = api.keys_of(api.a)["integration"]
    api.post("/holds", key, body(api, redeem_credit_rial=10_000), idem="hold-9")
    rev = api.post("/reversals", key, {"merchant_id": api.a.merchants["cafe"], "idempotency_key": "hold-9"})
    assert rev.status_code == 201 and rev.json["original_found"] is True, rev.json
    assert member_balances(api.service, member_of(api))["gift_credit"] == 200_000


def test_points_are_converted_to_credit_once_per_key(api: Api) -> None:
    member = member_of(api)
    api.a.buy(member, 5_000_000)
    points = points_of(api.service, member)
    assert points >= 20
    key = api.keys_of(api.a)["integration"]
    path = f"/members/{member}/conversions"
    credit_before = credit_of(api, member)
    done = api.post(path, key, {"points": 20}, idem="conv-1")
    assert done.status_code == 201 and done.json["kind"] == "conversion", done.json
    assert points_of(api.service, member) == points - 20
    assert credit_of(api, member) - credit_before == 2_000  # 10 points: 1,000 rials (the club's default ratio)
    before = dump(api.service)
    assert api.post(path, key, {"points": 20}, idem="conv-1").json["replayed"] is True
    refused(api, api.post(path, key, {"points": 30}, idem="conv-1"), 409, "exists_with_different_amount")
    refused(api, api.post(path, key, {"points": 10**9}), 422, "insufficient_balance")
    refused(api, api.post(path, key, {"points": 0}), 400, "field_invalid", "points")
    refused(api, api.post(path, api.keys_of(api.a)["member"], {"points": 10}), 403, "forbidden")
    refused(api, api.post(path, api.keys_of(api.b)["integration"], {"points": 10}), 404, "unknown_member", "member_id")
    assert dump(api.service) == before


def test_a_one_time_code_proves_a_spend(api: Api, tmp_path: Path) -> None:
    sms = FileNotifier(tmp_path / "sms.jsonl")
    api.service.notifier = sms
    api.a.admin.update_settings(api.a.club_id, {"verification": {"redeem": ["otp"], "bind": []}}, actor="test")
    gift(api)
    key = api.keys_of(api.a)["integration"]
    member = member_of(api)
    before = dump(api.service)
    refused(api, api.post("/purchases", key, body(api, 300_000, redeem_credit_rial=10_000)), 422, "verification_required")
    assert dump(api.service) == before
    sent = api.post(f"/members/{member}/codes", key, idem="code-1")
    assert sent.status_code == 201 and sent.json["sent"] is True and "*" in sent.json["mobile"], sent.json
    assert api.post(f"/members/{member}/codes", key, idem="code-1").json == sent.json  # replayed: no second code
    assert len(sms.messages()) == 1
    refused(api, api.post(f"/members/{member}/codes", key), 429, "code_too_soon")
    found = re.search(r"\d{6}", sms.messages()[-1]["text_en"])
    assert found is not None
    paid = api.post("/purchases", key, body(api, 300_000, redeem_credit_rial=10_000, proof={"otp": found.group()}))
    assert paid.status_code == 201 and paid.json["credit_used_rial"] == 10_000, paid.json
    refused(api, api.post(f"/members/{member}/codes", api.keys_of(api.b)["management"]), 404, "unknown_member")
    refused(api, api.post(f"/members/{member}/codes", api.keys_of(api.a)["member"]), 403, "forbidden")


def test_a_member_token_moves_no_value_but_its_own_vouchers(api: Api) -> None:
    token = api.keys_of(api.a)["member"]
    member = member_of(api)
    before = dump(api.service)
    for path, payload in (("/purchases/quote", body(api)), ("/holds", body(api)), ("/holds/1/complete", {}), ("/holds/1/cancel", {}),
                          ("/refunds", {"op_id": 1}), ("/reversals", {"idempotency_key": "k"}),
                          (f"/members/{member}/conversions", {"points": 1}), (f"/members/{member}/codes", None)):
        refused(api, api.post(path, token, payload), 403, "forbidden")
    assert dump(api.service) == before
