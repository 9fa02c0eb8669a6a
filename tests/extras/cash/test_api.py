"""The cash extra's API (``/api/v1/cash/...``) on the API tests' world (two clubs with keys of
every kind; ``merchant`` is an integration key bound to the club's cafe), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from web.conftest import Api, count, refused


def keys(api: Api, club: str = "a") -> dict[str, str]:
    return api.keys_of(api.a if club == "a" else api.b)


def expense(api: Api, amount: int = 2_500_000, category: str = "rent", **extra: Any) -> Any:
    r = api.post("/cash/expenses", keys(api)["merchant"], {"amount_rial": amount, "category": category, **extra})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def audits(api: Api, action: str) -> list[Any]:
    with api.service.reading() as tx:
        return tx.all("SELECT actor, reason, payload FROM audit_log WHERE action = ? ORDER BY id", (action,))


# --- categories ---------------------------------------------------------------------------------------


def test_a_club_starts_with_default_categories_and_adds_its_own(api: Api) -> None:
    k = keys(api)
    listed = api.get("/cash/categories", k["merchant"])
    assert listed.status_code == 200
    codes = {(c["kind"], c["code"]) for c in listed.json["items"]}
    assert {("expense", "rent"), ("expense", "wages"), ("expense", "goods"), ("expense", "bills"), ("expense", "transport"),
            ("expense", "other"), ("receipt", "sales"), ("receipt", "other")} <= codes
    rent = next(c for c in listed.json["items"] if c["code"] == "rent")
    assert rent["name_fa"] == "اجاره" and rent["shared"] is True
    assert {c["kind"] for c in api.get("/cash/categories", k["merchant"], kind="receipt").json["items"]} == {"receipt"}

    # The merchant adds its own; the club adds a shared one; both are audited.
    own = api.post("/cash/categories", k["merchant"], {"kind": "expense", "code": "Flour", "name_fa": "آرد", "name_en": "Flour"})
    assert own.status_code == 200 and own.json["code"] == "flour" and own.json["shared"] is False
    shared = api.post("/cash/categories", k["management"], {"kind": "receipt", "code": "tips", "name_fa": "انعام"})
    assert shared.status_code == 200 and shared.json["shared"] is True and shared.json["name_en"] == "tips"
    added = audits(api, "cash.category_added")
    assert len(added) == 2 and all(actor.startswith("api:") for actor, _, _ in added) and added[0][0] != added[1][0]
    codes = {c["code"] for c in api.get("/cash/categories", k["merchant"]).json["items"]}
    assert {"flour", "tips"} <= codes
    # The club's list is its shared ones; another merchant of the club does not see the cafe's own.
    club_codes = {c["code"] for c in api.get("/cash/categories", k["management"]).json["items"]}
    assert "tips" in club_codes and "flour" not in club_codes
    other = api.get("/cash/categories", k["management"], merchant_id=api.a.merchants["restaurant"]).json["items"]
    assert "flour" not in {c["code"] for c in other}

    # The same code again in one scope: category_exists; bad fields at their paths.
    again = api.post("/cash/categories", k["merchant"], {"kind": "expense", "code": "flour", "name_fa": "آرد"})
    refused(again, 409, "category_exists", "code")
    refused(api.post("/cash/categories", k["merchant"], {"code": "x", "name_fa": "x"}), 400, "field_required", "kind")
    refused(api.post("/cash/categories", k["merchant"], {"kind": "loan", "code": "x", "name_fa": "x"}), 400, "field_invalid", "kind")
    refused(api.post("/cash/categories", k["merchant"], {"kind": "expense", "code": "آرد", "name_fa": "x"}), 400, "field_invalid", "code")
    refused(api.post("/cash/categories", k["merchant"], {"kind": "expense", "name_fa": "x"}), 400, "field_required", "code")
    refused(api.post("/cash/categories", k["merchant"], {"kind": "expense", "code": "x"}), 400, "field_required", "name_fa")
    # An unbound integration key manages no category; a member token is not let in at all.
    refused(api.post("/cash/categories", k["integration"], {"kind": "expense", "code": "x", "name_fa": "x"}), 403, "forbidden")
    assert api.post("/cash/categories", k["member"], {"kind": "expense", "code": "x", "name_fa": "x"}).status_code == 403


def test_a_merchants_own_category_shadows_the_clubs_and_disabling_stops_new_entries(api: Api) -> None:
    k = keys(api)
    own = api.post("/cash/categories", k["merchant"], {"kind": "expense", "code": "rent", "name_fa": "اجارهٔ مغازه"}).json
    entry = expense(api, 1_000)
    assert entry["category"]["id"] == own["id"] and entry["category"]["name_fa"] == "اجارهٔ مغازه"
    off = api.post(f"/cash/categories/{own['id']}/disable", k["merchant"], {})
    assert off.status_code == 200 and off.json["active"] is False
    assert [a[0] for a in audits(api, "cash.category_disabled")] == [audits(api, "cash.category_added")[0][0]]
    # Disabled, the club's rent is the one used again.
    assert expense(api, 2_000)["category"]["name_fa"] == "اجاره"
    listed = api.get("/cash/categories", k["merchant"]).json["items"]
    assert [c["active"] for c in listed if c["id"] == own["id"]] == [False]
    # The club disables its shared rent: now no rent at all.
    shared = next(c for c in api.get("/cash/categories", k["management"]).json["items"] if c["code"] == "rent")
    assert api.post(f"/cash/categories/{shared['id']}/disable", k["management"], {}).status_code == 200
    before = count(api, "cash_entries")
    refused(api.post("/cash/expenses", k["merchant"], {"amount_rial": 5, "category": "rent"}), 404, "unknown_category", "category")
    assert count(api, "cash_entries") == before
    back = api.post(f"/cash/categories/{shared['id']}/enable", k["management"], {})
    assert back.status_code == 200 and back.json["active"] is True
    # A merchant cannot switch the club's category, nor another club's anything: 404.
    refused(api.post(f"/cash/categories/{shared['id']}/disable", k["merchant"], {}), 404, "not_found", "category_id")
    refused(api.post(f"/cash/categories/{shared['id']}/disable", keys(api, "b")["management"], {}), 404, "not_found")
    refused(api.post(f"/cash/categories/{own['id']}/enable", keys(api, "b")["merchant"], {}), 404, "not_found")


# --- entries ---------------------------------------------------------------------------------------------


def test_record_list_and_replay(api: Api) -> None:
    k = keys(api)
    first = api.post("/cash/expenses", k["merchant"], {"amount_rial": 2_500_000, "category": "rent", "note": "اجارهٔ آذر"},
                     idem="pc-pos-1")
    assert first.status_code == 200, first.json
    e = first.json
    assert e["kind"] == "expense" and e["amount_rial"] == 2_500_000 and e["category"]["code"] == "rent"
    assert e["merchant_id"] == api.a.merchants["cafe"] and e["source"] == "api" and e["voided"] is None
    assert e["day"] == "2025-05-14" and e["day_jalali"] == "1404/02/24"
    assert e["recorded"]["at"].endswith("+03:30") and e["recorded"]["at_jalali"].startswith("1404-02-24")
    # The same key and body: the first answer, recorded once.
    again = api.post("/cash/expenses", k["merchant"], {"amount_rial": 2_500_000, "category": "rent", "note": "اجارهٔ آذر"},
                     idem="pc-pos-1")
    assert again.status_code == 200 and again.json == e and count(api, "cash_entries") == 1
    # A cash receipt without a category; one with; one for yesterday (a Jalali date).
    plain = api.post("/cash/receipts", k["merchant"], {"amount_rial": 150_000})
    assert plain.status_code == 200 and plain.json["category"] is None
    sales = api.post("/cash/receipts", k["merchant"], {"amount_rial": 90_000, "category": "sales", "day": "1404/02/23"})
    assert sales.status_code == 200 and sales.json["day"] == "2025-05-13"
    with api.service.reading() as tx:
        events = tx.all("SELECT uid FROM outbox_events WHERE event = 'cash.entry_recorded' ORDER BY id")
    assert len(events) == 3 and events[0][0] == f"cash.entry_recorded:{api.a.club_id}:{e['id']}"

    listed = api.get("/cash/entries", k["merchant"])
    assert listed.status_code == 200
    assert [x["id"] for x in listed.json["items"]] == [sales.json["id"], plain.json["id"], e["id"]]
    assert listed.json["next_cursor"] is None
    page = api.get("/cash/entries", k["merchant"], limit=2)
    assert len(page.json["items"]) == 2 and page.json["next_cursor"]
    rest = api.get("/cash/entries", k["merchant"], limit=2, cursor=page.json["next_cursor"])
    assert [x["id"] for x in rest.json["items"]] == [e["id"]] and rest.json["next_cursor"] is None
    assert [x["kind"] for x in api.get("/cash/entries", k["merchant"], kind="receipt").json["items"]] == ["receipt", "receipt"]
    assert [x["id"] for x in api.get("/cash/entries", k["merchant"], **{"from": "2025-05-14"}).json["items"]] == [plain.json["id"], e["id"]]
    assert [x["id"] for x in api.get("/cash/entries", k["merchant"], to="1404/02/23").json["items"]] == [sales.json["id"]]
    # The club's key sees the club's entries, and one merchant's by merchant_id.
    assert len(api.get("/cash/entries", k["management"]).json["items"]) == 3
    assert api.get("/cash/entries", k["management"], merchant_id=api.a.merchants["restaurant"]).json["items"] == []
    refused(api.get("/cash/entries", k["merchant"], cursor="abc"), 400, "invalid_cursor", "cursor")
    refused(api.get("/cash/entries", k["merchant"], limit=201), 400, "field_invalid", "limit")
    refused(api.get("/cash/entries", k["merchant"], kind="loan"), 400, "field_invalid", "kind")


def test_refusals_name_their_field_and_record_nothing(api: Api) -> None:
    k = keys(api)
    m = k["merchant"]
    expense(api, 1_000)
    before = count(api, "cash_entries")
    cases = [
        ({"category": "rent"}, 400, "field_required", "amount_rial"),
        ({"amount_rial": 0, "category": "rent"}, 400, "amount_must_be_positive", "amount_rial"),
        ({"amount_rial": -5, "category": "rent"}, 400, "amount_must_be_positive", "amount_rial"),
        ({"amount_rial": 100_000_000_001, "category": "rent"}, 400, "amount_too_large", "amount_rial"),
        ({"amount_rial": "ten", "category": "rent"}, 400, "field_invalid", "amount_rial"),
        ({"amount_rial": 10}, 400, "field_required", "category"),
        ({"amount_rial": 10, "category": "sales"}, 404, "unknown_category", "category"),
        ({"amount_rial": 10, "category_id": 999_999}, 404, "unknown_category", "category_id"),
        ({"amount_rial": 10, "category": "rent", "day": "2025-05-15"}, 400, "field_invalid", "day"),
        ({"amount_rial": 10, "category": "rent", "day": "2025-01-01"}, 400, "field_invalid", "day"),
        ({"amount_rial": 10, "category": "rent", "day": "1404/13/01"}, 400, "invalid_date", "day"),
        ({"amount_rial": 10, "category": "rent", "day": "yesterday"}, 400, "field_invalid", "day"),
        ({"amount_rial": 10, "category": "rent", "note": "x" * 201}, 400, "field_invalid", "note"),
    ]
    for body, status, code, path in cases:
        refused(api.post("/cash/expenses", m, body), status, code, path)
    refused(api.post("/cash/receipts", m, {"amount_rial": 10, "category": "rent"}), 404, "unknown_category", "category")
    # Who may record: a merchant's key for its merchant; an unbound integration key names one.
    refused(api.post("/cash/expenses", k["integration"], {"amount_rial": 10, "category": "rent"}), 400, "field_required", "merchant_id")
    assert api.post("/cash/expenses", k["management"], {"amount_rial": 10, "category": "rent"}).status_code == 403
    assert count(api, "cash_entries") == before
    ok = api.post("/cash/expenses", k["integration"], {"amount_rial": 10, "category": "rent", "merchant_id": api.a.merchants["restaurant"]})
    assert ok.status_code == 200 and ok.json["merchant_id"] == api.a.merchants["restaurant"]
    # A merchant's key naming another merchant, any key naming another club's: as if it did not exist.
    refused(api.post("/cash/expenses", m, {"amount_rial": 10, "category": "rent", "merchant_id": api.a.merchants["restaurant"]}),
            404, "unknown_merchant", "merchant_id")
    refused(api.post("/cash/expenses", k["integration"], {"amount_rial": 10, "category": "rent", "merchant_id": api.b.merchants["cafe"]}),
            404, "unknown_merchant", "merchant_id")
    refused(api.get("/cash/entries", k["management"], merchant_id=api.b.merchants["cafe"]), 404, "unknown_merchant")
    assert count(api, "cash_entries") == before + 1


def test_void_with_a_reason_once_and_audited(api: Api) -> None:
    k = keys(api)
    e = expense(api, 300_000, note="اشتباه")
    path = f"/cash/entries/{e['id']}/void"
    refused(api.post(path, k["merchant"], {}), 422, "reason_required", "reason")
    refused(api.post(path, k["merchant"], {"reason": "   "}), 422, "reason_required", "reason")
    # Another club, or another club's merchant key: 404, and nothing changes.
    refused(api.post(path, keys(api, "b")["management"], {"reason": "x"}), 404, "not_found", "entry_id")
    refused(api.post(path, keys(api, "b")["merchant"], {"reason": "x"}), 404, "not_found", "entry_id")
    refused(api.post("/cash/entries/999999/void", k["merchant"], {"reason": "x"}), 404, "not_found", "entry_id")
    assert audits(api, "cash.entry_voided") == []
    done = api.post(path, k["merchant"], {"reason": "مبلغ اشتباه وارد شد"}, idem="void-1")
    assert done.status_code == 200 and done.json["voided"]["reason"] == "مبلغ اشتباه وارد شد"
    again = api.post(path, k["merchant"], {"reason": "مبلغ اشتباه وارد شد"}, idem="void-1")
    assert again.json == done.json
    refused(api.post(path, k["management"], {"reason": "دوباره"}), 409, "already_reversed", "entry_id")
    rows = audits(api, "cash.entry_voided")
    assert len(rows) == 1 and rows[0][0] == done.json["voided"]["by"] and rows[0][1] == "مبلغ اشتباه وارد شد"
    assert rows[0][0].startswith("api:")
    # Still listed, marked voided; left out of the totals.
    listed = api.get("/cash/entries", k["merchant"]).json["items"]
    assert listed[0]["id"] == e["id"] and listed[0]["voided"]["by"] == rows[0][0]
    assert api.get("/cash/income", k["merchant"]).json["totals"]["expenses_rial"] == 0


# --- the income report -------------------------------------------------------------------------------------


def test_the_daily_income_report_puts_card_sales_beside_cash(api: Api) -> None:
    k = keys(api)
    a = api.a
    member = api.members[a.club_id]
    first = a.buy(member, 1_000_000)
    a.buy(member, 500_000)
    a.service.refund(a.merchants["cafe"], idem_key="refund-1", op_id=int(first["op_id"]), amount_rial=200_000)
    a.buy(member, 700_000, merchant="restaurant")  # another merchant's sale
    expense(api, 2_500_000, "rent")
    expense(api, 400_000, "bills")
    expense(api, 100_000, "bills")
    api.post("/cash/receipts", k["merchant"], {"amount_rial": 150_000, "category": "sales"})
    api.post("/cash/receipts", k["merchant"], {"amount_rial": 60_000})
    api.post("/cash/expenses", k["merchant"], {"amount_rial": 80_000, "category": "goods", "day": "2025-05-12"})

    report = api.get("/cash/income", k["merchant"], **{"from": "1404/02/22", "to": "1404/02/24"})
    assert report.status_code == 200, report.json
    r = report.json
    assert r["merchant"]["id"] == a.merchants["cafe"] and r["from"] == "2025-05-12" and r["to_jalali"] == "1404/02/24"
    assert [d["day"] for d in r["days"]] == ["2025-05-12", "2025-05-13", "2025-05-14"]
    today = r["days"][-1]
    assert today["card_purchases"] == 2 and today["card_sales_rial"] == 1_500_000 and today["card_refunds_rial"] == 200_000
    assert today["card_net_rial"] == 1_300_000 and today["cash_receipts_rial"] == 210_000 and today["expenses_rial"] == 3_000_000
    assert today["expenses_by_category"] == {"rent": 2_500_000, "bills": 500_000}
    assert today["net_rial"] == 1_300_000 + 210_000 - 3_000_000
    assert r["days"][0]["expenses_rial"] == 80_000 and r["days"][1]["net_rial"] == 0
    t = r["totals"]
    assert t["expenses_rial"] == 3_080_000 and t["net_rial"] == 1_300_000 + 210_000 - 3_080_000
    assert [(x["code"], x["amount_rial"], x["count"]) for x in t["expenses_by_category"]] == [
        ("rent", 2_500_000, 1), ("bills", 500_000, 2), ("goods", 80_000, 1)]
    assert [(x["code"], x["amount_rial"]) for x in t["cash_receipts_by_category"]] == [("sales", 150_000), (None, 60_000)]
    assert t["cash_receipts_by_category"][1]["name_en"] == "Uncategorised"

    # The same as CSV, a line per day and a total line.
    csv_answer = api.get("/cash/income", k["merchant"], format="csv", **{"from": "2025-05-12", "to": "2025-05-14"})
    assert csv_answer.status_code == 200 and csv_answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_answer.get_data(as_text=True))))
    assert rows[0][:3] == ["day", "day_jalali", "card_purchases"] and "expense:rent" in rows[0] and rows[0][-1] == "net_rial"
    assert rows[3][:2] == ["2025-05-14", "1404/02/24"] and rows[3][-1] == str(1_300_000 + 210_000 - 3_000_000)
    assert rows[-1][0] == "total" and rows[-1][rows[0].index("expense:goods")] == "80000"

    # The club's staff read any merchant of theirs; by default this Jalali month so far.
    club = api.get("/cash/income", k["management"], merchant_id=a.merchants["restaurant"])
    assert club.status_code == 200 and club.json["from_jalali"] == "1404/02/01" and club.json["totals"]["card_sales_rial"] == 700_000
    refused(api.get("/cash/income", k["management"]), 400, "field_required", "merchant_id")
    refused(api.get("/cash/income", keys(api, "b")["management"], merchant_id=a.merchants["cafe"]), 404, "unknown_merchant")
    refused(api.get("/cash/income", keys(api, "b")["merchant"], merchant_id=a.merchants["cafe"]), 404, "unknown_merchant")
    refused(api.get("/cash/income", k["merchant"], **{"from": "2025-05-14", "to": "2025-05-01"}), 400, "field_invalid", "from")
    refused(api.get("/cash/income", k["merchant"], **{"from": "2024-01-01", "to": "2025-05-01"}), 400, "field_invalid", "to")
    refused(api.get("/cash/income", k["merchant"], format="xml"), 400, "field_invalid", "format")
    assert api.get("/cash/income", k["member"]).status_code == 403


def test_persian_refusals_hold_no_english(api: Api) -> None:
    k = keys(api)
    gone = api.post("/cash/entries/999999/void", k["merchant"], {"reason": "x"}, lang="fa")
    assert gone.status_code == 404 and gone.json["error"]["message"] == "چنین ثبتی اینجا وجود ندارد"
    kind = api.get("/cash/entries", k["merchant"], lang="fa", kind="loan")
    assert kind.json["error"]["message"] == "این فیلد معتبر نیست: هزینه یا دریافت"
    code = api.post("/cash/categories", k["merchant"], {"kind": "expense", "code": "!", "name_fa": "x"}, lang="fa")
    assert code.status_code == 400 and not any("a" <= ch <= "z" for ch in code.json["error"]["message"])
    switch = api.post("/cash/categories/999999/disable", k["merchant"], {}, lang="fa")
    assert switch.json["error"]["message"] == "چنین دسته‌ای اینجا وجود ندارد"
