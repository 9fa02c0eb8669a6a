"""The API's conventions, held: keys (shown once, hashed, revocable, scoped), errors (a catalogue
code, the language asked for, the path), Idempotency-Key, rate limits, size limits, the OpenAPI
document and the reference page."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from kimia.service import apikeys
import pytest

from kimia.web.api import idempotency
from kimia.web.api.limits import MAX_REQUEST_BYTES

from ..conftest import Api, count


def purchase_body(api: Api, amount: int = 1_000_000, **extra: Any) -> dict[str, Any]:
    return {"merchant_id": api.a.merchants["cafe"], "member": {"kind": "id", "value": str(api.members[api.a.club_id])},
            "amount_rial": amount, **extra}


def test_a_request_without_a_key_or_with_a_bad_one_is_refused(api: Api) -> None:
    r = api.get("/api-keys", None)
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthenticated"
    for bad in ("nonsense", "kimia_mk_abcdefabcdef_" + "x" * 43, api.keys["platform"][:-1] + ("Z" if not api.keys["platform"].endswith("Z") else "Y")):
        r = api.get("/api-keys", bad)
        assert r.status_code == 401 and r.json["error"]["code"] == "api_key_invalid", bad


def test_errors_speak_persian_by_default_and_english_when_asked(api: Api) -> None:
    fa = api.client.get("/api/v1/api-keys")
    assert fa.json["error"]["message"].startswith("کلید API لازم است") and fa.headers["Content-Language"] == "fa"
    en = api.get("/api-keys", None, lang="en")
    assert en.json["error"]["message"].startswith("An API key is needed")
    assert api.client.get("/api/v1/no-such-thing").json["error"]["code"] == "not_found"
    assert api.client.patch("/api/v1/api-keys").json["error"]["code"] == "method_not_allowed"


def test_a_key_is_shown_once_stored_hashed_listed_and_revoked(api: Api) -> None:
    mk = api.keys_of(api.a)["management"]
    r = api.post("/api-keys", mk, {"kind": "integration", "label": "site", "merchant_id": api.a.merchants["cafe"]})
    assert r.status_code == 201, r.json
    token, public_id = r.json["key"], r.json["public_id"]
    assert token.startswith(f"kimia_ik_{public_id}_") and r.json["club_id"] == api.a.club_id
    with api.service.reading() as tx:
        stored = tx.all("SELECT secret_hash FROM api_keys WHERE public_id = ?", (public_id,))
        dump = json.dumps([list(r) for r in tx.all("SELECT * FROM api_keys")] + [list(r) for r in tx.all("SELECT * FROM api_requests")])
    assert stored == [(hashlib.sha256(token.split("_")[3].encode()).hexdigest(),)]
    assert token.split("_")[3] not in dump  # neither the key table nor the replay record holds the secret
    listed = api.get("/api-keys", mk).json["items"]
    assert public_id in [k["public_id"] for k in listed] and all("key" not in k for k in listed)
    assert api.get("/api-keys", token).status_code == 403  # an integration key manages no keys
    assert api.delete(f"/api-keys/{public_id}", api.keys_of(api.b)["management"]).status_code == 404  # not B's
    revoked = api.delete(f"/api-keys/{public_id}", mk)
    assert revoked.status_code == 200 and revoked.json["revoked"] is not None
    assert api.post("/purchases", token, purchase_body(api)).json["error"]["code"] == "api_key_invalid"


def test_a_replayed_key_creation_does_not_show_the_key_again(api: Api) -> None:
    mk = api.keys_of(api.a)["management"]
    first = api.post("/api-keys", mk, {"kind": "integration"}, idem="make-1")
    again = api.post("/api-keys", mk, {"kind": "integration"}, idem="make-1")
    assert first.json["key"] and again.json["key"] is None and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["public_id"] == first.json["public_id"]
    other = api.post("/api-keys", mk, {"kind": "management"}, idem="make-1")
    assert other.status_code == 409 and other.json["error"]["code"] == "exists_with_different_request"


def test_a_management_key_makes_keys_only_for_its_own_club(api: Api) -> None:
    r = api.post("/api-keys", api.keys_of(api.a)["management"], {"kind": "integration", "club_id": api.b.club_id})
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    r = api.post("/api-keys", api.keys_of(api.a)["management"], {"kind": "integration", "merchant_id": api.b.merchants["cafe"]})
    assert r.status_code == 422 and r.json["error"]["code"] == "foreign_reference" and r.json["error"]["path"] == "merchant_id"
    r = api.post("/api-keys", api.keys["platform"], {"kind": "management"})
    assert r.status_code == 400 and r.json["error"] == {"code": "field_required", "message": "This field is required", "path": "club_id",
                                                        "params": {}}
    assert api.post("/api-keys", api.keys["platform"], {"kind": "management", "club_id": api.b.club_id}).status_code == 201


def test_a_purchase_over_the_api_is_done_once_per_key(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    first = api.post("/purchases", key, purchase_body(api), idem="buy-1")
    assert first.status_code == 201, first.json
    assert first.json["kind"] == "purchase" and first.json["points_earned"] > 0 and first.json["replayed"] is False
    ops = count(api, "operations")
    again = api.post("/purchases", key, purchase_body(api), idem="buy-1")
    assert again.status_code == 201 and again.json["replayed"] is True and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["op_id"] == first.json["op_id"] and count(api, "operations") == ops
    changed = api.post("/purchases", key, purchase_body(api, 2_000_000), idem="buy-1")
    assert changed.status_code == 409 and changed.json["error"]["code"] == "exists_with_different_amount"
    assert count(api, "operations") == ops


def test_bad_purchases_are_refused_with_their_code_and_path_and_change_nothing(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    ops = count(api, "operations")
    cases: list[tuple[Any, int, str, str | None]] = [
        (purchase_body(api, -5), 400, "field_invalid", "amount_rial"),
        ({**purchase_body(api), "member": {"kind": "id"}}, 400, "field_required", "member.value"),
        ({**purchase_body(api), "tip_rial": 5}, 400, "field_invalid", "tip_rial"),
        ({**purchase_body(api), "basket": [{"goods_id": "x", "quantity": 0, "amount_rial": 1}]}, 400, "field_invalid", "basket.0.quantity"),
        ({**purchase_body(api), "merchant_id": api.b.merchants["cafe"]}, 404, "unknown_merchant", "merchant_id"),
        (purchase_body(api, 1_000_000, redeem_credit_rial=999_999_999), 422, "insufficient_balance", None),
    ]
    for body, status, code, path in cases:
        r = api.post("/purchases", key, body)
        assert (r.status_code, r.json["error"]["code"]) == (status, code), (body, r.json)
        if path is not None:
            assert r.json["error"]["path"] == path
    r = api.client.post("/api/v1/purchases", data="{not json", headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "j"},
                        content_type="application/json")
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_json"
    assert api.post("/purchases", key, purchase_body(api), idem=None).json["error"]["code"] == "missing_idempotency_key"
    assert count(api, "operations") == ops


def test_a_merchant_bound_key_acts_only_as_its_merchant(api: Api) -> None:
    key = api.keys_of(api.a)["merchant"]
    body = purchase_body(api)
    del body["merchant_id"]
    r = api.post("/purchases", key, body)
    assert r.status_code == 201 and r.json["merchant_id"] == api.a.merchants["cafe"]
    r = api.post("/purchases", key, {**body, "merchant_id": api.a.merchants["restaurant"]})
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"


def test_member_tokens_are_minted_by_integrations_and_expire(api: Api, clock: Any) -> None:
    key = api.keys_of(api.a)["integration"]
    member = api.members[api.a.club_id]
    r = api.post("/member-tokens", key, {"member": {"kind": "id", "value": str(member)}, "ttl_s": 120})
    assert r.status_code == 201 and r.json["member_id"] == member
    assert api.post("/member-tokens", key, {"member": {"kind": "id", "value": str(api.members[api.b.club_id])}}).status_code == 404
    token = r.json["token"]
    assert api.post("/purchases", token, purchase_body(api)).json["error"]["code"] == "forbidden"
    clock.advance(seconds=121)
    assert api.post("/purchases", token, purchase_body(api)).json["error"]["code"] == "api_key_invalid"


def test_a_key_over_its_rate_is_told_when_to_come_back(api: Api) -> None:
    row, token = apikeys.create(api.service, kind="management", club_id=api.a.club_id, actor="test", rate_per_min=60)
    answers = [api.get("/api-keys", token) for _ in range(12)]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    limited = answers[-1]
    assert limited.status_code == 429 and limited.json["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1


def test_a_body_too_large_is_refused(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    r = api.client.post("/api/v1/purchases", data=b"{" + b" " * MAX_REQUEST_BYTES + b"}", content_type="application/json",
                        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "big"})
    assert r.status_code == 413 and r.json["error"]["code"] == "request_too_large"


def test_the_openapi_document_and_the_reference_page_are_served(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    post = doc["paths"]["/api/v1/purchases"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PurchaseIn"}
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert "amount_rial" in doc["components"]["schemas"]["PurchaseIn"]["properties"]
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200 and b"/api/v1/purchases" in page.data
    assert b"http://" not in page.data and b"https://" not in page.data  # nothing fetched from outside


def test_a_made_up_cursor_is_refused(api: Api) -> None:
    r = api.get("/api-keys", api.keys_of(api.a)["management"], cursor="not-a-cursor")
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_cursor" and r.json["error"]["path"] == "cursor"


def test_a_key_still_being_answered_makes_a_second_request_wait_then_a_dead_claim_is_taken_over(
        api: Api, monkeypatch: pytest.MonkeyPatch, clock: Any) -> None:
    mk = api.keys_of(api.a)["management"]
    key_id = apikeys.lookup(api.service, mk.split("_")[2]).id  # type: ignore[union-attr]
    body = {"kind": "integration"}
    digest = idempotency.request_hash("POST", "/api/v1/api-keys", body)
    api.service.write(lambda tx: tx.execute(
        "INSERT INTO api_requests (key_id, idem_key, request_hash, status, created_at, lease_until) VALUES (?,?,?,0,?,?)",
        (key_id, "busy", digest, clock(), clock() + idempotency.LEASE_S)))
    monkeypatch.setattr(idempotency, "WAIT_S", 0.1)
    keys = count(api, "api_keys")
    r = api.post("/api-keys", mk, body, idem="busy")
    assert r.status_code == 409 and r.json["error"]["code"] == "idempotency_in_progress" and count(api, "api_keys") == keys
    clock.advance(seconds=idempotency.LEASE_S + 1)  # the process that claimed it is gone
    r = api.post("/api-keys", mk, body, idem="busy")
    assert r.status_code == 201 and count(api, "api_keys") == keys + 1


def test_a_fault_inside_kimia_is_a_server_error_and_a_retry_runs_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    key = api.keys_of(api.a)["integration"]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a fault the test made")

    with monkeypatch.context() as patched:
        patched.setattr(api.service, "purchase", broken)
        r = api.post("/purchases", key, purchase_body(api), idem="fault-1")
    assert r.status_code == 500 and r.json["error"]["code"] == "server_error"
    assert api.post("/purchases", key, purchase_body(api), idem="fault-1").status_code == 201
    mk = api.keys_of(api.a)["management"]
    with monkeypatch.context() as patched:
        patched.setattr(apikeys, "create", broken)
        assert api.post("/api-keys", mk, {"kind": "integration"}, idem="fault-2").status_code == 500
    assert api.post("/api-keys", mk, {"kind": "integration"}, idem="fault-2").status_code == 201  # the claim was released


def test_a_cash_register_sends_its_basket_as_the_terminal_does(api: Api) -> None:
    key = api.keys_of(api.a)["integration"]
    lines = [{"goods_id": "tea-100g", "group": "drinks", "quantity": 2, "amount_rial": 600_000},
             {"goods_id": "cake", "quantity": 1, "amount_rial": 400_000}]
    r = api.post("/purchases", key, purchase_body(api, 1_000_000, basket=lines))
    assert r.status_code == 201, r.json
    with api.service.reading() as tx:
        stored = tx.one("SELECT request_hash FROM operations WHERE id = ?", (r.json["op_id"],))
    assert stored is not None
    ops = count(api, "operations")
    r = api.post("/purchases", key, purchase_body(api, 1_200_000, basket=lines))
    assert r.status_code == 400 and r.json["error"]["code"] == "basket_mismatch"
    r = api.post("/purchases", key, purchase_body(api, 1_000_000, basket=[{**lines[0], "goods_id": "a|b"}]))
    assert r.status_code == 400 and r.json["error"]["path"] == "basket.0.goods_id"
    assert count(api, "operations") == ops


def test_an_id_no_database_can_hold_is_not_found(api: Api) -> None:
    key = api.keys_of(api.a)["management"]
    for path in (f"/members/{2**64}", "/members/0", f"/merchants/{2**63}"):
        r = api.get(path, key)
        assert r.status_code == 404 and r.json["error"]["code"] == "not_found", path
    # Another method of the same path is not found either (not 405: the path and method exist).
    r = api.put(f"/merchants/{2**63}", key, {"name_fa": "x"})
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found" and r.json["error"]["path"] == "merchant_id"
    r = api.post(f"/merchants/{2**63}/branches", key, {"name_fa": "x"})
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"


def test_numbers_past_what_the_database_holds_are_refused_at_the_door(api: Api) -> None:
    """An integer past BIGINT in a body, a query or a cursor is the caller's mistake (4xx), not an
    SQL error; nothing is written."""
    mk = api.keys_of(api.a)["management"]
    ops = count(api, "operations")
    r = api.post("/purchases", mk, purchase_body(api, merchant_id=2**63))
    assert r.status_code == 400 and r.json["error"]["code"] == "field_invalid" and r.json["error"]["path"] == "merchant_id"
    r = api.post("/purchases", mk, purchase_body(api, proof={"pin": "1234"}, branch_id=10**30))
    assert r.status_code == 400 and r.json["error"]["path"] == "branch_id"
    r = api.post("/purchases", mk, purchase_body(api, member={"kind": "id", "value": "9" * 30}))
    assert r.status_code == 404 and r.json["error"]["code"] == "unknown_member"
    assert api.post("/purchases", mk, purchase_body(api, member={"kind": "account", "value": "9" * 30})).status_code in (400, 404)
    r = api.post("/member-tokens", mk, {"member": {"kind": "id", "value": "9" * 30}})
    assert r.status_code == 404 and r.json["error"]["code"] == "unknown_member"
    r = api.get("/api-keys", mk, limit=str(10**30))
    assert r.status_code == 400 and r.json["error"]["path"] == "limit"
    huge_cursor = base64.urlsafe_b64encode(f"k1:{2**64}".encode()).decode().rstrip("=")
    assert api.get("/api-keys", mk, cursor=huge_cursor).json == {"items": [], "next_cursor": None}  # past every key
    assert count(api, "operations") == ops


def test_a_body_nested_too_deeply_is_not_json_the_api_reads(api: Api) -> None:
    r = api.client.post("/api/v1/purchases", data=b"[" * 100_000 + b"]" * 100_000,
                        headers={"Authorization": f"Bearer {api.keys_of(api.a)['management']}", "Idempotency-Key": "deep",
                                 "Accept-Language": "en", "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_json"
