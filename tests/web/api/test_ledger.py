"""The value a back office moves and reads over the API: budgets and their use, the settlement
file (CSV and JSON), adjustments with a reason, charges, batches, credit limits and the expiry
sweep; each with its bad inputs answered by code and path, and nothing changed."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import kimia._core as core
from service.builders import balance, dump, member_balances, mobile

from ..conftest import Api

EPOCH = dt.date(1970, 1, 1)


def mk(api: Api, world: Any = None) -> str:
    return api.keys_of(world or api.a)["management"]


def member_a(api: Api) -> int:
    return api.members[api.a.club_id]


def audit_rows(api: Api, action: str) -> list[tuple[Any, ...]]:
    with api.service.reading() as tx:
        return [tuple(r) for r in tx.all("SELECT actor, reason FROM audit_log WHERE action = ? ORDER BY id", (action,))]


def today(api: Api) -> int:
    return api.a.clock.local_day()


def dates(day: int) -> tuple[str, str]:
    date = EPOCH + dt.timedelta(days=day)
    y, m, d = core.gregorian_to_jalali(date.year, date.month, date.day)
    return date.isoformat(), f"{y:04d}-{m:02d}-{d:02d}"


def assert_error(r: Any, status: int, code: str, path: str | None = None) -> None:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.json["error"]["code"] == code, r.json
    if path is not None:
        assert r.json["error"]["path"] == path, r.json


# --- budgets -----------------------------------------------------------------------------------------


def _publish_budgeted(api: Api) -> None:
    api.a.publish([{
        "id": "cashback-capped",
        "effects": [{"type": "credit", "kind": "cashback", "percent_bp": 1_000}],
        "budgets": [{"per": "rule", "period": "total", "limit_rial": 50_000},
                    {"per": "member", "period": "day", "limit_count": 5}],
    }])


def test_budgets_list_what_the_rules_declare_and_their_use(api: Api) -> None:
    _publish_budgeted(api)
    member = member_a(api)
    api.a.buy(member, 300_000)
    r = api.get("/budgets", mk(api))
    assert r.status_code == 200, r.json
    items = {(b["rule_id"], b["index"]): b for b in r.json["items"]}
    total, daily = items[("cashback-capped", 0)], items[("cashback-capped", 1)]
    assert (total["per"], total["period"], total["limit_rial"], total["used"], total["holders"]) == ("rule", "total", 50_000, 30_000, 1)
    assert (daily["per"], daily["limit_count"], daily["used"], daily["holders"], daily["most_used"]) == ("member", 5, 1, 1, 1)
    assert daily["period_key"] == f"d:{today(api)}" and r.json["rules_version"] == api.a.rules_version
    gregorian, jalali = dates(today(api) - 1)
    for query in ({"day": gregorian}, {"day": jalali, "calendar": "jalali"}):
        earlier = {(b["rule_id"], b["index"]): b for b in api.get("/budgets", mk(api), **query).json["items"]}
        assert earlier[("cashback-capped", 1)]["used"] == 0 and earlier[("cashback-capped", 0)]["used"] == 30_000
    first = api.get("/budgets", mk(api), limit=1)
    assert len(first.json["items"]) == 1 and first.json["next_cursor"]
    second = api.get("/budgets", mk(api), limit=1, cursor=first.json["next_cursor"])
    assert second.json["items"][0] != first.json["items"][0]
    # Club B's back office sees its own rules only (none of them has a budget).
    assert api.get("/budgets", mk(api, api.b)).json["items"] == []


def test_budgets_refuse_a_bad_day(api: Api) -> None:
    assert_error(api.get("/budgets", mk(api), day="2026-02-30"), 400, "field_invalid", "day")
    assert_error(api.get("/budgets", mk(api), day="1405-12-30", calendar="jalali"), 400, "field_invalid", "day")
    assert_error(api.get("/budgets", mk(api), day="yesterday"), 400, "field_invalid", "day")
    assert_error(api.get("/budgets", api.keys_of(api.a)["integration"]), 403, "forbidden")


# --- settlement ---------------------------------------------------------------------------------------


def test_the_settlement_file_is_csv_and_adds_up(api: Api) -> None:
    api.a.buy(member_a(api), 2_000_000)
    api.a.buy(member_a(api), 1_000_000, merchant="restaurant")
    gregorian, jalali = dates(today(api))
    r = api.get("/settlement", mk(api), day=gregorian)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"] == f'attachment; filename="settlement-{api.a.club_id}-{gregorian}.csv"'
    text = r.get_data(as_text=True)
    assert text == api.service.settlement(api.a.club_id, today(api))
    lines = list(csv.DictReader(io.StringIO(text)))
    assert lines[-1]["role"] == "total" and int(lines[-1]["amount_rial"]) == sum(int(x["amount_rial"]) for x in lines[:-1]) > 0
    assert api.get("/settlement", mk(api), day=jalali, calendar="jalali").get_data(as_text=True) == text
    summary = api.get("/settlement/summary", mk(api), day=jalali, calendar="jalali")
    assert summary.status_code == 200 and (summary.json["day"], summary.json["day_jalali"]) == (gregorian, jalali)
    assert summary.json["total_rial"] == int(lines[-1]["amount_rial"]) and len(summary.json["lines"]) == len(lines) - 1
    # Club B's file of the same day has none of A's payments.
    other = list(csv.DictReader(io.StringIO(api.get("/settlement", mk(api, api.b), day=gregorian).get_data(as_text=True))))
    assert [x["role"] for x in other] == ["total"] and other[0]["amount_rial"] == "0"


def test_the_settlement_refuses_a_bad_day_as_json(api: Api) -> None:
    for query, code, path in (({}, "field_required", "day"), ({"day": "2026-13-01"}, "field_invalid", "day"),
                              ({"day": "1405-01-01", "calendar": "hijri"}, "field_invalid", "calendar")):
        for route in ("/settlement", "/settlement/summary"):
            r = api.get(route, mk(api), **query)
            assert_error(r, 400, code, path)
            assert r.headers["Content-Type"].startswith("application/json")
    assert_error(api.get("/settlement", api.keys_of(api.a)["member"], day="2026-01-01"), 403, "forbidden")


def test_the_openapi_document_describes_the_csv_answer(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").json
    ok = doc["paths"]["/api/v1/settlement"]["get"]["responses"]["200"]
    assert ok["content"] == {"text/csv": {"schema": {"type": "string"}}}
    assert "text/csv" in api.client.get("/api/v1/docs").get_data(as_text=True)


# --- adjustments ----------------------------------------------------------------------------------------


def test_an_adjustment_moves_value_once_with_its_reason(api: Api) -> None:
    member = member_a(api)
    body = {"account_kind": "points", "delta": 120, "reason": "goodwill after a complaint"}
    r = api.post(f"/members/{member}/adjustments", mk(api), body, idem="adj-1")
    assert r.status_code == 201, r.json
    assert member_balances(api.service, member).get("points") == 120 and r.json["replayed"] is False
    again = api.post(f"/members/{member}/adjustments", mk(api), body, idem="adj-1")
    assert again.status_code == 201 and again.json["op_id"] == r.json["op_id"] and again.json["replayed"] is True
    assert again.headers["Idempotent-Replayed"] == "true" and member_balances(api.service, member)["points"] == 120
    public_id = mk(api).split("_")[2]
    assert audit_rows(api, "adjust") == [(f"api:{public_id}", "goodwill after a complaint")]
    before = dump(api.service)
    assert_error(api.post(f"/members/{member}/adjustments", mk(api), {**body, "delta": 121}, idem="adj-1"), 409,
                 "exists_with_different_amount")
    assert_error(api.post(f"/members/{member}/adjustments", mk(api), {**body, "reason": "another"}, idem="adj-1"), 409,
                 "exists_with_different_request")
    assert dump(api.service) == before
    taken = api.post(f"/members/{member}/adjustments", mk(api), {"account_kind": "points", "delta": -20, "reason": "typo"})
    assert taken.status_code == 201 and member_balances(api.service, member)["points"] == 100


def test_an_adjustment_needs_a_reason_and_a_sound_body(api: Api) -> None:
    member = member_a(api)
    path = f"/members/{member}/adjustments"
    before = dump(api.service)
    cases: list[tuple[Any, int, str, str | None]] = [
        ({"account_kind": "points", "delta": 5}, 422, "reason_required", "reason"),
        ({"account_kind": "points", "delta": 5, "reason": "   "}, 422, "reason_required", "reason"),
        ({"account_kind": "points", "delta": 0, "reason": "x"}, 400, "amount_must_be_positive", "delta"),
        ({"account_kind": "points", "delta": -5, "reason": "x"}, 422, "insufficient_balance", None),
        ({"account_kind": "held", "delta": 5, "reason": "x"}, 400, "field_invalid", "account_kind"),
        ({"account_kind": "points", "reason": "x"}, 400, "field_required", "delta"),
        ({"account_kind": "points", "delta": 5, "reason": "x", "merchant_id": api.a.merchants["cafe"]}, 400, "field_invalid", "merchant_id"),
        ({"account_kind": "merchant_credit", "delta": 5, "reason": "x", "merchant_id": api.b.merchants["cafe"]}, 404,
         "unknown_merchant", "merchant_id"),
        ({"account_kind": "points", "delta": 5, "reason": "x", "why": "typo"}, 400, "field_invalid", "why"),
    ]
    for body, status, code, where in cases:
        assert_error(api.post(path, mk(api), body), status, code, where)
    assert_error(api.post(path, mk(api), {"account_kind": "points", "delta": 5, "reason": "x"}, idem=None), 400,
                 "missing_idempotency_key", "Idempotency-Key")
    assert_error(api.post("/members/999999/adjustments", mk(api), {"account_kind": "points", "delta": 5, "reason": "x"}), 404,
                 "unknown_member", "member_id")
    assert dump(api.service) == before and audit_rows(api, "adjust") == []


def test_a_merchant_credit_adjustment_is_at_the_merchant(api: Api) -> None:
    member, cafe = member_a(api), api.a.merchants["cafe"]
    r = api.post(f"/members/{member}/adjustments", mk(api),
                 {"account_kind": "merchant_credit", "merchant_id": cafe, "delta": 40_000, "reason": "refund in kind", "expires_days": 30})
    assert r.status_code == 201, r.json
    assert balance(api.service, f"member:{member}/merchant_credit@merchant:{cafe}") == 40_000


def test_a_club_cannot_adjust_another_clubs_member(api: Api) -> None:
    member = member_a(api)
    before = dump(api.service)
    for kind in ("management", "integration", "merchant", "member"):
        r = api.post(f"/members/{member}/adjustments", api.keys_of(api.b)[kind], {"account_kind": "points", "delta": 1_000, "reason": "x"})
        assert r.status_code == (404 if kind == "management" else 403), (kind, r.json)
    assert_error(api.post(f"/members/{member}/adjustments", mk(api, api.b), {"account_kind": "points", "delta": 1_000, "reason": "x"}),
                 404, "unknown_member", "member_id")
    assert_error(api.post(f"/members/{api.members[api.b.club_id]}/adjustments", mk(api),
                          {"account_kind": "points", "delta": 1_000, "reason": "x"}), 404, "unknown_member", "member_id")
    assert dump(api.service) == before and audit_rows(api, "adjust") == []
    assert api.service.check().ok


# --- charges ----------------------------------------------------------------------------------------------


def test_a_charge_credits_the_member_once(api: Api) -> None:
    member = member_a(api)
    body = {"kind": "gift_credit", "amount_rial": 500_000, "source": {"type": "cash"}, "reason": "gift card sold at the desk"}
    r = api.post(f"/members/{member}/charges", mk(api), body, idem="gift-1")
    assert r.status_code == 201, r.json
    again = api.post(f"/members/{member}/charges", mk(api), body, idem="gift-1")
    assert again.json["op_id"] == r.json["op_id"] and again.json["replayed"] is True
    assert member_balances(api.service, member)["gift_credit"] == 500_000
    welfare = api.post(f"/members/{member}/charges", mk(api), {"kind": "welfare_credit", "amount_rial": 70_000, "reason": "staff",
                                                               "source": {"type": "merchant", "id": api.a.merchants["cafe"]}})
    assert welfare.status_code == 201 and member_balances(api.service, member)["welfare_credit"] == 70_000
    club = api.post(f"/members/{member}/charges", mk(api), {"kind": "virtual_credit", "amount_rial": 1_000, "reason": "promo",
                                                            "source": {"type": "club", "id": api.a.sub_club_id}})
    assert club.status_code == 201, club.json
    assert [reason for _, reason in audit_rows(api, "charge")] == ["gift card sold at the desk", "staff", "promo"]


def test_a_charge_refuses_bad_inputs_and_another_clubs_things(api: Api) -> None:
    member = member_a(api)
    path = f"/members/{member}/charges"
    ok = {"kind": "gift_credit", "amount_rial": 500_000, "source": {"type": "cash"}, "reason": "x"}
    before = dump(api.service)
    cases: list[tuple[Any, int, str, str | None]] = [
        ({**ok, "reason": ""}, 422, "reason_required", "reason"),
        ({**ok, "amount_rial": 0}, 400, "amount_must_be_positive", "amount_rial"),
        ({**ok, "amount_rial": -5}, 400, "field_invalid", "amount_rial"),
        ({**ok, "kind": "points"}, 400, "field_invalid", "kind"),
        ({**ok, "source": {"type": "org"}}, 400, "field_required", "source.id"),
        ({**ok, "source": {"type": "merchant", "id": api.b.merchants["cafe"]}}, 404, "unknown_merchant", "source.id"),
        ({**ok, "source": {"type": "club", "id": api.b.club_id}}, 404, "unknown_club", "source.id"),
        ({**ok, "shared_wallet": True}, 400, "invalid_request", "shared_wallet"),
    ]
    for body, status, code, where in cases:
        assert_error(api.post(path, mk(api), body), status, code, where)
    assert_error(api.post(path, mk(api, api.b), ok), 404, "unknown_member", "member_id")
    assert dump(api.service) == before and audit_rows(api, "charge") == []


def test_a_charge_batch_charges_each_member_once(api: Api) -> None:
    first = member_a(api)
    second = api.a.enroll(identifiers=[("mobile", mobile(3_000_001))])
    body = {"org_id": 9, "reason": "staff welfare, Azar",
            "charges": [{"member_id": first, "amount_rial": 100_000}, {"member_id": second, "amount_rial": 200_000}]}
    r = api.post("/charge-batches", mk(api), body, idem="batch-azar")
    assert r.status_code == 201, r.json
    assert [i["member_id"] for i in r.json["items"]] == [first, second]
    again = api.post("/charge-batches", mk(api), body, idem="batch-azar")
    assert [i["op_id"] for i in again.json["items"]] == [i["op_id"] for i in r.json["items"]]
    assert all(i["replayed"] for i in again.json["items"])
    assert [member_balances(api.service, m)["welfare_credit"] for m in (first, second)] == [100_000, 200_000]
    before = dump(api.service)
    other = {**body, "charges": [body["charges"][0], {"member_id": second, "amount_rial": 250_000}]}
    assert_error(api.post("/charge-batches", mk(api), other, idem="batch-azar"), 409, "exists_with_different_amount")
    assert dump(api.service) == before


def test_a_charge_batch_naming_another_clubs_member_charges_nobody(api: Api) -> None:
    before = dump(api.service)
    foreign: dict[str, Any] = {"org_id": 9, "reason": "x", "charges": [{"member_id": member_a(api), "amount_rial": 1},
                                                       {"member_id": api.members[api.b.club_id], "amount_rial": 1}]}
    assert_error(api.post("/charge-batches", mk(api), foreign), 404, "unknown_member", "charges.1.member_id")
    twice = {**foreign, "charges": [foreign["charges"][0], foreign["charges"][0]]}
    assert_error(api.post("/charge-batches", mk(api), twice), 400, "field_invalid", "charges.1.member_id")
    assert_error(api.post("/charge-batches", mk(api), {**foreign, "charges": []}), 400, "field_invalid", "charges")
    assert_error(api.post("/charge-batches", mk(api), {**twice, "charges": twice["charges"][:1], "reason": ""}), 422,
                 "reason_required", "reason")
    assert dump(api.service) == before


# --- credit limits ------------------------------------------------------------------------------------------


def test_a_credit_limit_is_set_with_a_reason(api: Api) -> None:
    member = member_a(api)
    r = api.put(f"/members/{member}/credit-limit", mk(api), {"limit_rial": 2_000_000, "reason": "salary advance"})
    assert r.status_code == 200 and r.json == {"member_id": member, "limit_rial": 2_000_000}
    with api.service.reading() as tx:
        assert tx.one("SELECT credit_limit FROM balances WHERE account = ?", (f"member:{member}/credit_line",))[0] == 2_000_000
    assert [reason for _, reason in audit_rows(api, "set_credit_limit")] == ["salary advance"]
    before = dump(api.service)
    assert_error(api.put(f"/members/{member}/credit-limit", mk(api), {"limit_rial": 1}), 422, "reason_required", "reason")
    assert_error(api.put(f"/members/{member}/credit-limit", mk(api), {"limit_rial": -1, "reason": "x"}), 400, "field_invalid", "limit_rial")
    assert_error(api.put(f"/members/{member}/credit-limit", mk(api, api.b), {"limit_rial": 1, "reason": "x"}), 404, "unknown_member")
    assert dump(api.service) == before


# --- expiry ------------------------------------------------------------------------------------------------------


def test_the_expiry_sweep_retires_expired_lots_and_is_recorded(api: Api) -> None:
    member = member_a(api)
    assert api.post(f"/members/{member}/adjustments", mk(api),
                    {"account_kind": "points", "delta": 300, "reason": "trial", "expires_days": 1}).status_code == 201
    api.a.clock.advance(days=3)
    r = api.post("/expiry-sweeps", mk(api), idem="sweep-1")
    assert r.status_code == 200 and r.json["members_swept"] == 1, r.json
    assert member_balances(api.service, member).get("points", 0) == 0
    again = api.post("/expiry-sweeps", mk(api), idem="sweep-1")
    assert again.json == r.json and again.headers["Idempotent-Replayed"] == "true"
    assert api.post("/expiry-sweeps", mk(api)).json["members_swept"] == 0
    assert len(audit_rows(api, "expire_sweep")) == 2
    assert_error(api.post("/expiry-sweeps", api.keys_of(api.a)["integration"]), 403, "forbidden")
    assert api.post("/expiry-sweeps", mk(api), {"club_id": api.a.sub_club_id}).status_code == 200
    before = dump(api.service)
    assert_error(api.post("/expiry-sweeps", mk(api), {"club_id": api.b.club_id}), 404, "unknown_club", "club_id")
    assert_error(api.post("/expiry-sweeps", mk(api), {"club": 1}), 400, "field_invalid", "club")
    assert dump(api.service) == before and len(audit_rows(api, "expire_sweep")) == 3
