"""The rule set routes (kimia/web/api/routes/rules.py): validate (every error at its path), dry run
and backtest (nothing written), publish with an effective time (used from that time on, not
before), versions listed, read and compared. Management keys only; a sub-club's key only reads."""

from __future__ import annotations

from typing import Any

from kimia.service import apikeys

from ..conftest import Api, count

LATER = {"id": "later-bonus", "name": {"en": "Later: 77 points", "fa": "بعدا"}, "effects": [{"type": "points", "fixed": 77}],
         "funding": {"club_owner": 10_000}}


def draft(api: Api, *extra: dict[str, Any]) -> dict[str, Any]:
    body = api.a.rules()
    return {**body, "rules": body["rules"] + list(extra)}


def mk(api: Api) -> str:
    return api.keys_of(api.a)["management"]


def member_ref(api: Api) -> dict[str, str]:
    return {"kind": "id", "value": str(api.members[api.a.club_id])}


def iso(ts: int) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(ts, dt.timezone(dt.timedelta(minutes=210))).isoformat()


def test_validate_answers_ok_or_every_error_at_its_path(api: Api) -> None:
    before = count(api, "rule_sets")
    ok = api.post("/rules/validate", mk(api), {"rule_set": draft(api)})
    assert ok.status_code == 200 and ok.json == {"ok": True, "errors": []}
    n = len(api.a.rules()["rules"])
    bad = api.post("/rules/validate", mk(api), {"rule_set": draft(api, {"id": "empty", "effects": []},
                                                                    {"id": "big", "effects": [{"type": "discount", "percent_bp": 20_000}]})},
                   lang="fa")
    assert bad.status_code == 200 and bad.json["ok"] is False
    paths = {e["path"]: e for e in bad.json["errors"]}
    assert paths[f"rule_set.rules.{n}.effects"]["code"] == "rule_empty_effects"
    assert any(p.startswith(f"rule_set.rules.{n + 1}.effects.0") for p in paths)
    assert all(e["message_fa"] and e["message_en"] for e in bad.json["errors"])
    theirs = api.post("/rules/validate", mk(api), {"rule_set": draft(api, {"id": "b", "scope": {"merchants": [api.b.merchants["cafe"]]},
                                                                           "effects": [{"type": "points", "fixed": 1}]})})
    assert [(e["code"], e["path"]) for e in theirs.json["errors"]] == [("foreign_reference", f"rule_set.rules.{n}.scope.merchants.0")]
    named = api.post("/rules/validate", mk(api), {"rule_set": {**draft(api), "club_id": api.b.club_id}})
    assert (named.status_code, named.json["error"]["code"], named.json["error"]["path"]) == (422, "foreign_reference", "rule_set.club_id")
    assert api.post("/rules/validate", mk(api), {"rule_set": {**draft(api), "club_id": api.a.club_id}}).json["ok"] is True
    assert count(api, "rule_sets") == before


def test_validate_refuses_a_bad_request_and_other_keys(api: Api) -> None:
    r = api.post("/rules/validate", mk(api), {"rules": []})
    assert r.status_code == 400 and r.json["error"]["code"] in ("field_required", "field_invalid")
    assert api.post("/rules/validate", mk(api), {"rule_set": draft(api)}, idem=None).json["error"]["code"] == "missing_idempotency_key"
    for kind in ("integration", "merchant", "member"):
        assert api.post("/rules/validate", api.keys_of(api.a)[kind], {"rule_set": draft(api)}).status_code == 403, kind


def test_dry_run_explains_a_sample_purchase_and_writes_nothing(api: Api) -> None:
    ops, journal = count(api, "operations"), count(api, "journal")
    made_up = api.post("/rules/dry-run", mk(api), {"rule_set": draft(api, LATER), "merchant_id": api.a.merchants["cafe"],
                                                   "sample_member": {"tier": "gold", "groups": [api.a.member_group_id]},
                                                   "amount_rial": 1_000_000})
    assert made_up.status_code == 200, made_up.json
    assert "later-bonus" in made_up.json["applied_rules"] and "vip-bonus" in made_up.json["applied_rules"]
    assert made_up.json["explanation_fa"] and made_up.json["explanation_en"] and made_up.json["explanation"]
    real = api.post("/rules/dry-run", mk(api), {"rule_set": draft(api), "merchant_id": api.a.merchants["restaurant"],
                                                "member": member_ref(api), "amount_rial": 2_000_000,
                                                "basket": [{"goods_id": "tea", "quantity": 2, "amount_rial": 2_000_000}]})
    assert real.status_code == 200, real.json
    assert real.json["member_id"] == api.members[api.a.club_id]
    assert "later-bonus" not in real.json["applied_rules"] and "food-court-5" in real.json["applied_rules"]
    assert (count(api, "operations"), count(api, "journal")) == (ops, journal)


def test_dry_run_refuses_bad_inputs_at_their_paths(api: Api) -> None:
    ops = count(api, "operations")
    base = {"rule_set": draft(api), "merchant_id": api.a.merchants["cafe"], "amount_rial": 1_000_000}
    cases = [
        ({**base}, 400, "field_invalid", "member"),
        ({**base, "member": member_ref(api), "sample_member": {}}, 400, "field_invalid", "member"),
        ({**base, "merchant_id": api.b.merchants["cafe"], "sample_member": {}}, 404, "unknown_merchant", "merchant_id"),
        ({**base, "member": {"kind": "id", "value": str(api.members[api.b.club_id])}}, 404, "unknown_member", None),
        ({**base, "rule_set": draft(api, {"id": "x", "effects": []}), "sample_member": {}}, 400, "rule_empty_effects", None),
        ({**base, "amount_rial": -1, "sample_member": {}}, 400, "field_invalid", "amount_rial"),
    ]
    for body, status, code, path in cases:
        r = api.post("/rules/dry-run", mk(api), body)
        assert (r.status_code, r.json["error"]["code"]) == (status, code), (body, r.json)
        if path is not None:
            assert r.json["error"]["path"] == path
        if code.startswith("rule_"):
            assert r.json["error"]["path"].startswith("rule_set.rules.")
    assert count(api, "operations") == ops


def test_backtest_totals_the_version_in_effect_or_a_draft(api: Api, clock: Any) -> None:
    for _ in range(2):
        api.a.buy(api.members[api.a.club_id], 1_000_000)
    clock.advance(hours=1)
    written = (count(api, "operations"), count(api, "journal"), count(api, "rule_sets"))
    current = api.post("/rules/backtest", mk(api), {"days": 7})
    assert current.status_code == 200, current.json
    assert current.json["version"] == api.a.rules_version and current.json["totals"]["purchases"] == 2
    trial = api.post("/rules/backtest", mk(api), {"days": 7, "rule_set": draft(api, LATER)})
    assert trial.json["version"] == 0 and trial.json["totals"]["points_issued"] == current.json["totals"]["points_issued"] + 2 * 77
    assert {"rule_id": "later-bonus", "name": "Later: 77 points", "uses": 2, "discount_rial": 0, "points": 154, "credit_rial": 0} \
        in trial.json["rules"]
    assert [m["merchant_id"] for m in current.json["merchants"]] == [api.a.merchants["cafe"]]
    for days in (0, 366):
        r = api.post("/rules/backtest", mk(api), {"days": days})
        assert (r.status_code, r.json["error"]["code"], r.json["error"]["path"]) == (400, "field_invalid", "days")
    bad = api.post("/rules/backtest", mk(api), {"days": 7, "rule_set": draft(api, {"id": "x", "effects": []})})
    assert bad.json["error"]["code"] == "rule_empty_effects" and bad.json["error"]["path"].startswith("rule_set.rules.")
    assert (count(api, "operations"), count(api, "journal"), count(api, "rule_sets")) == written


def test_publish_takes_effect_at_its_time(api: Api, clock: Any) -> None:
    start = api.a.rules_version
    later = clock.now + 3_600
    r = api.post("/rules", mk(api), {"rule_set": draft(api, LATER), "effective_from": iso(later), "reason": "campaign"})
    assert r.status_code == 201, r.json
    assert r.json["version"] == start + 1 and r.json["in_effect"] is False and r.json["rule_count"] == len(draft(api, LATER)["rules"])
    assert r.json["effective"]["at"] == iso(later) and r.json["created_by"].startswith("api:")
    buy = {"merchant_id": api.a.merchants["bookshop"], "member": member_ref(api), "amount_rial": 1_000_000}
    assert "later-bonus" not in api.post("/purchases", mk(api), buy).json["applied_rules"]
    clock.advance(hours=1)
    assert "later-bonus" in api.post("/purchases", mk(api), buy).json["applied_rules"]
    listed = api.get("/rules/versions", mk(api)).json["items"]
    assert [(v["version"], v["in_effect"]) for v in listed][-2:] == [(start, False), (start + 1, True)]


def test_publish_refuses_bad_inputs_and_writes_nothing(api: Api, clock: Any) -> None:
    before = count(api, "rule_sets")
    n = len(api.a.rules()["rules"])
    cases = [
        ({"rule_set": draft(api), "effective_from": "tomorrow"}, 400, "field_invalid", "effective_from"),
        ({"rule_set": draft(api), "effective_from": "2026-12-07T00:00:00"}, 400, "field_invalid", "effective_from"),
        ({"rule_set": draft(api), "effective_from": iso(clock.now - 86_400)}, 400, "field_invalid", "effective_from"),
        ({"rule_set": draft(api, {"id": "x", "effects": []})}, 400, "rule_empty_effects", f"rule_set.rules.{n}.effects"),
        ({"rule_set": draft(api, {"id": "b", "scope": {"merchants": [api.b.merchants["cafe"]]}, "effects": [{"type": "points", "fixed": 1}]})},
         422, "foreign_reference", f"rule_set.rules.{n}.scope.merchants.0"),
        ({"rule_set": draft(api), "extra": 1}, 400, "field_invalid", "extra"),
        ({"rule_set": {**draft(api), "club_id": api.b.club_id}}, 422, "foreign_reference", "rule_set.club_id"),
    ]
    for body, status, code, path in cases:
        r = api.post("/rules", mk(api), body)
        assert (r.status_code, r.json["error"]["code"], r.json["error"]["path"]) == (status, code, path), (body, r.json)
    assert api.post("/rules", api.keys_of(api.a)["integration"], {"rule_set": draft(api)}).status_code == 403
    sub_key = apikeys.create(api.service, kind="management", club_id=api.a.sub_club_id, actor="test")[1]
    assert api.post("/rules", sub_key, {"rule_set": draft(api)}).status_code == 403
    assert api.get("/rules/versions", sub_key).status_code == 200  # a sub-club reads its root's rule sets
    assert count(api, "rule_sets") == before


def test_publish_replays_under_its_key(api: Api) -> None:
    first = api.post("/rules", mk(api), {"rule_set": draft(api)}, idem="pub-1")
    again = api.post("/rules", mk(api), {"rule_set": draft(api)}, idem="pub-1")
    assert first.status_code == again.status_code == 201 and again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_versions_are_paged_read_and_compared(api: Api) -> None:
    start = api.a.rules_version
    body_b = draft(api, LATER)
    body_b["rules"] = [r for r in body_b["rules"] if r["id"] != "referral"]
    body_b["rules"][0] = {**body_b["rules"][0], "priority": 9}
    assert api.post("/rules", mk(api), {"rule_set": body_b}).status_code == 201
    page = api.get("/rules/versions", mk(api), limit=1)
    assert len(page.json["items"]) == 1 and page.json["next_cursor"]
    rest = api.get("/rules/versions", mk(api), limit=50, cursor=page.json["next_cursor"]).json
    assert [v["version"] for v in page.json["items"] + rest["items"]] == list(range(1, start + 2))
    one = api.get(f"/rules/versions/{start + 1}", mk(api)).json
    assert one["version"] == start + 1 and one["rule_set"]["club_id"] == api.a.club_id
    assert [r["id"] for r in one["rule_set"]["rules"]] == [r["id"] for r in body_b["rules"]]
    change = api.get(f"/rules/versions/{start}/diff/{start + 1}", mk(api)).json
    assert (change["added"], change["removed"], change["changed"]) == (["later-bonus"], ["referral"], [body_b["rules"][0]["id"]])
    assert api.get("/rules/versions/999", mk(api)).json["error"]["code"] == "not_found"
    assert api.get(f"/rules/versions/{start}/diff/999", mk(api)).json["error"]["path"] == "b"
    assert api.get("/rules/versions", mk(api), cursor="junk").json["error"]["code"] == "invalid_cursor"
