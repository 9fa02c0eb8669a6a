"""Voucher templates over the API: made (checked, audited), listed and read with how many were
bought and used; another club's template is not found, its merchants are refused."""

from __future__ import annotations

from typing import Any

from service.builders import rows

from ..conftest import Api, count
from ..conftest import refused as assert_error


def mk(api: Api, world: Any = None) -> str:
    return api.keys_of(world or api.a)["management"]


GOOD = {"name_fa": "ووچر ۵۰ هزاری", "name_en": "50k off", "discount_rial": 50_000, "valid_days": 14, "price_points": 20}


def test_a_template_is_made_listed_and_read(api: Api) -> None:
    body = {**GOOD, "merchants": [api.a.merchants["cafe"], api.a.merchants["bookshop"]]}
    r = api.post("/voucher-templates", mk(api), body)
    assert r.status_code == 201, r.json
    made = r.json
    assert {k: made[k] for k in body} == body and (made["issued"], made["used"], made["funder"]) == (0, 0, "club_owner")
    assert made["club_id"] == api.a.club_id
    assert api.get(f"/voucher-templates/{made['id']}", mk(api)).json == made
    listed = api.get("/voucher-templates", mk(api)).json
    assert [t["id"] for t in listed["items"]] == [api.a.voucher_template_id, made["id"]] and listed["next_cursor"] is None
    page = api.get("/voucher-templates", mk(api), limit=1).json
    assert api.get("/voucher-templates", mk(api), cursor=page["next_cursor"]).json["items"] == [made]
    assert rows(api.service, "SELECT action FROM audit_log WHERE action = 'create_voucher_template' ORDER BY id DESC LIMIT 1") == [
        ("create_voucher_template",)]


def test_a_template_counts_the_vouchers_bought_from_it(api: Api) -> None:
    member = api.members[api.a.club_id]
    api.a.buy(member, 10_000_000)  # enough points for the template's price of 50
    api.service.buy_voucher(api.a.club_id, member, api.a.voucher_template_id, idem_key="v-1")
    seen = api.get(f"/voucher-templates/{api.a.voucher_template_id}", mk(api)).json
    assert (seen["issued"], seen["used"], seen["price_points"]) == (1, 0, 50)


def test_making_a_template_refuses_bad_inputs(api: Api) -> None:
    before = count(api, "voucher_templates")
    cases: list[tuple[Any, int, str, str]] = [
        ({**GOOD, "discount_rial": 0}, 400, "field_invalid", "discount_rial"),
        ({**GOOD, "price_credit_rial": 10}, 400, "invalid_request", "price"),
        ({**GOOD, "discount_bp": 10_001}, 400, "field_invalid", "discount_bp"),
        ({**GOOD, "valid_days": 0}, 400, "field_invalid", "valid_days"),
        ({**GOOD, "funder": "member"}, 400, "field_invalid", "funder"),
        ({**GOOD, "merchants": [api.b.merchants["cafe"]]}, 422, "foreign_reference", "merchants[0]"),
        ({"discount_rial": 1}, 400, "field_required", "name_fa"),
    ]
    for body, status, code, path in cases:
        assert_error(api.post("/voucher-templates", mk(api), body), status, code, path)
    assert_error(api.post("/voucher-templates", api.keys_of(api.a)["integration"], GOOD), 403, "forbidden")
    assert count(api, "voucher_templates") == before


def test_another_clubs_template_is_not_found(api: Api) -> None:
    assert_error(api.get(f"/voucher-templates/{api.a.voucher_template_id}", mk(api, api.b)), 404, "unknown_voucher_template")
    assert_error(api.get("/voucher-templates/999999", mk(api)), 404, "unknown_voucher_template")
    assert api.a.voucher_template_id not in [t["id"] for t in api.get("/voucher-templates", mk(api, api.b)).json["items"]]
