"""The tier routes (kimia/web/api/routes/tiers.py): the tier settings read and replaced (validated,
audited with the reason), the period's last close, a preview that writes nothing, and a close kept
under its Idempotency-Key. Management keys only; a sub-club's key only reads."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from kimia.service import apikeys

from ..conftest import Api

NEW_TIERS = [{"name": "basic", "rise_at": 0, "stay_at": 0, "grace_periods": 0, "deduct_bp": 0},
             {"name": "star", "rise_at": 50, "stay_at": 20, "grace_periods": 2, "deduct_bp": 500}]


def mk(api: Api) -> str:
    return api.keys_of(api.a)["management"]


def rows(api: Api, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with api.service.reading() as tx:
        return [tuple(r) for r in tx.all(statement, params)]


def settings_of(api: Api, club: int) -> dict[str, Any]:
    value = rows(api, "SELECT settings FROM clubs WHERE id = ?", (club,))[0][0]
    return value if isinstance(value, dict) else json.loads(value)


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone(dt.timedelta(minutes=210))).isoformat()


def test_tiers_are_read_and_replaced_with_a_reason(api: Api) -> None:
    got = api.get("/tiers", mk(api))
    assert got.status_code == 200 and [t["name"] for t in got.json["tiers"]] == ["bronze", "silver", "gold"]
    put = api.put("/tiers", mk(api), {"tiers": NEW_TIERS, "reason": "simpler tiers"})
    assert put.status_code == 200, put.json
    assert put.json["tiers"] == NEW_TIERS and settings_of(api, api.a.club_id)["tiers"] == {"tiers": NEW_TIERS}
    assert rows(api, "SELECT actor, reason FROM audit_log WHERE action = 'update_settings' ORDER BY id DESC LIMIT 1")[0][1] == "simpler tiers"
    assert api.get("/tiers", api.keys_of(api.b)["management"]).json["tiers"][0]["name"] == "bronze"  # B's own, untouched


def test_bad_tiers_are_refused_and_nothing_changes(api: Api) -> None:
    before = settings_of(api, api.a.club_id)
    falling = [{"name": "a", "rise_at": 100}, {"name": "b", "rise_at": 50}]
    cases = [
        ({"tiers": NEW_TIERS}, 400, "field_required", "reason"),
        ({"tiers": [], "reason": "x"}, 400, "field_invalid", "tiers"),
        ({"tiers": falling, "reason": "x"}, 400, "invalid_tier_config", None),
        ({"tiers": [{"name": "a"}, {"name": "a"}], "reason": "x"}, 400, "field_invalid", "tiers.1.name"),
        ({"tiers": [{"name": "a", "deduct_bp": 10_001}], "reason": "x"}, 400, "field_invalid", "tiers.0.deduct_bp"),
        ({"tiers": [{"name": "a", "colour": "red"}], "reason": "x"}, 400, "field_invalid", "tiers.0.colour"),
    ]
    for body, status, code, path in cases:
        r = api.put("/tiers", mk(api), body)
        assert (r.status_code, r.json["error"]["code"], r.json["error"]["path"]) == (status, code, path), (body, r.json)
    for kind in ("integration", "merchant", "member"):
        assert api.put("/tiers", api.keys_of(api.a)[kind], {"tiers": NEW_TIERS, "reason": "x"}).status_code == 403
    sub_key = apikeys.create(api.service, kind="management", club_id=api.a.sub_club_id, actor="test")[1]
    assert api.put("/tiers", sub_key, {"tiers": NEW_TIERS, "reason": "x"}).status_code == 403
    assert api.get("/tiers", sub_key).status_code == 200
    assert settings_of(api, api.a.club_id) == before


def test_preview_writes_nothing_and_close_moves_members_once(api: Api, clock: Any) -> None:
    member = api.members[api.a.club_id]
    api.a.buy(member, 20_000_000, merchant="restaurant")  # enough period points to rise
    assert api.get("/tiers/period", mk(api)).json == {"last_close": None, "unfinished_close": None, "next_close_from": None}
    clock.advance(days=1)
    history = len(rows(api, "SELECT id FROM tier_history"))
    preview = api.post("/tiers/period/preview", mk(api), {})
    assert preview.status_code == 200, preview.json
    assert sum(preview.json["reasons"].values()) == len(rows(api, "SELECT id FROM members WHERE club_id IN (?, ?)",
                                                              (api.a.club_id, api.a.sub_club_id)))
    assert any(m["to_tier"] == "gold" and m["members"] >= 1 for m in preview.json["moves"])
    assert len(rows(api, "SELECT id FROM tier_history")) == history
    assert rows(api, "SELECT tier FROM members WHERE id = ?", (member,))[0][0] != "gold"
    closed = api.post("/tiers/period/close", mk(api), {}, idem="close-1")
    assert closed.status_code == 200, closed.json
    assert closed.json["reasons"] == preview.json["reasons"] and closed.json["period_end"] == preview.json["period_end"]
    assert rows(api, "SELECT tier FROM members WHERE id = ?", (member,))[0][0] == "gold"
    again = api.post("/tiers/period/close", mk(api), {}, idem="close-1")
    assert again.json == closed.json and again.headers.get("Idempotent-Replayed") == "true"
    period = api.get("/tiers/period", mk(api)).json
    assert period["last_close"] == closed.json["period_end"] and period["unfinished_close"] is None
    assert period["next_close_from"]["at"] == iso(clock.now + 86_400)
    assert len(rows(api, "SELECT id FROM tier_history WHERE member_id = ?", (member,))) == 1


def test_a_close_is_refused_when_too_soon_in_the_future_or_badly_timed(api: Api, clock: Any) -> None:
    assert api.post("/tiers/period/close", mk(api), {}).status_code == 200
    closes = rows(api, "SELECT COUNT(*) FROM period_closes")[0][0]
    clock.advance(hours=1)
    cases = [
        ({}, 422, "period_too_short", "period_end"),
        ({"period_end": iso(clock.now - 7_200)}, 409, "period_already_closed", "period_end"),
        ({"period_end": iso(clock.now + 3_600)}, 422, "period_end_in_future", "period_end"),
        ({"period_end": "soon"}, 400, "field_invalid", "period_end"),
        ({"force": "yes please"}, 400, "field_invalid", "force"),
    ]
    for body, status, code, path in cases:
        for route in ("/tiers/period/preview", "/tiers/period/close"):
            r = api.post(route, mk(api), body)
            assert (r.status_code, r.json["error"]["code"], r.json["error"]["path"]) == (status, code, path), (route, body, r.json)
    assert api.post("/tiers/period/close", api.keys_of(api.a)["integration"], {"force": True}).status_code == 403
    assert rows(api, "SELECT COUNT(*) FROM period_closes")[0][0] == closes
    forced = api.post("/tiers/period/close", mk(api), {"force": True})
    assert forced.status_code == 200 and rows(api, "SELECT COUNT(*) FROM period_closes")[0][0] == closes + 1


def test_a_member_is_moved_by_hand_and_the_next_close_keeps_them(api: Api) -> None:
    member = api.members[api.a.club_id]
    r = api.post(f"/members/{member}/tier", mk(api), {"tier": "gold", "reason": "loyal customer"})
    assert r.status_code == 200, r.json
    assert (r.json["member_id"], r.json["to_tier"]) == (member, "gold") and r.json["from_tier"] != "gold"
    assert rows(api, "SELECT tier, manual_tier FROM members WHERE id = ?", (member,)) == [("gold", "gold")]
    logged = rows(api, "SELECT actor, reason FROM audit_log WHERE action = 'move_tier'")
    assert len(logged) == 1 and logged[0][1] == "loyal customer" and logged[0][0].startswith("api:")
    assert api.post("/tiers/period/close", mk(api), {}).status_code == 200  # no points: only the manual move keeps gold
    assert rows(api, "SELECT tier, manual_tier FROM members WHERE id = ?", (member,)) == [("gold", None)]
    assert rows(api, "SELECT reason FROM tier_history WHERE member_id = ?", (member,)) == [("manual",)]


def test_a_move_by_hand_refuses_bad_inputs_and_changes_nothing(api: Api) -> None:
    member, theirs = api.members[api.a.club_id], api.members[api.b.club_id]
    before = rows(api, "SELECT id, tier, manual_tier FROM members ORDER BY id")
    cases = [
        (member, {"tier": "platinum", "reason": "x"}, 422, "foreign_reference", "tier"),
        (member, {"tier": "gold"}, 400, "field_required", "reason"),
        (member, {"tier": "gold", "reason": ""}, 400, "field_invalid", "reason"),
        (theirs, {"tier": "gold", "reason": "x"}, 404, "unknown_member", "member_id"),
        (999_999, {"tier": "gold", "reason": "x"}, 404, "unknown_member", "member_id"),
    ]
    for who, body, status, code, path in cases:
        r = api.post(f"/members/{who}/tier", mk(api), body)
        assert (r.status_code, r.json["error"]["code"], r.json["error"]["path"]) == (status, code, path), (body, r.json)
    for kind in ("integration", "merchant", "member"):
        assert api.post(f"/members/{member}/tier", api.keys_of(api.a)[kind], {"tier": "gold", "reason": "x"}).status_code == 403
    assert rows(api, "SELECT id, tier, manual_tier FROM members ORDER BY id") == before
    assert rows(api, "SELECT COUNT(*) FROM audit_log WHERE action = 'move_tier'") == [(0,)]
