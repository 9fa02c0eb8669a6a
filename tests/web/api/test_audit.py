"""The audit log over the API: newest first, paged by cursor, filtered by action and actor, of the
caller's club tree only, masked as stored."""

from __future__ import annotations

import json
from typing import Any

from service.builders import card_number

from ..conftest import Api


def mk(api: Api, world: Any = None) -> str:
    return api.keys_of(world or api.a)["management"]


def adjust(api: Api, reason: str) -> None:
    r = api.post(f"/members/{api.members[api.a.club_id]}/adjustments", mk(api), {"account_kind": "points", "delta": 10, "reason": reason})
    assert r.status_code == 201, r.json


def test_the_audit_log_is_newest_first_and_paged(api: Api) -> None:
    for n in range(3):
        adjust(api, f"reason {n}")
    r = api.get("/audit-log", mk(api))
    assert r.status_code == 200
    ids = [row["id"] for row in r.json["items"]]
    assert ids == sorted(ids, reverse=True) and r.json["items"][0]["reason"] == "reason 2"
    assert r.json["items"][0]["at"]["at_jalali"] and r.json["items"][0]["payload"]["delta"] == 10
    walked: list[int] = []
    cursor = None
    while True:
        page = api.get("/audit-log", mk(api), limit=2, **({"cursor": cursor} if cursor else {})).json
        walked += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == ids


def test_the_audit_log_filters_by_action_and_actor(api: Api) -> None:
    adjust(api, "one")
    api.service.adjust(api.a.club_id, api.members[api.a.club_id], idem_key="by-hand", account_kind="points", delta=5,
                       actor="cli:ali", reason="by hand")
    public_id = mk(api).split("_")[2]
    mine = api.get("/audit-log", mk(api), action="adjust", actor=f"api:{public_id}").json["items"]
    assert [(row["actor"], row["reason"]) for row in mine] == [(f"api:{public_id}", "one")]
    assert [row["reason"] for row in api.get("/audit-log", mk(api), actor="cli:ali").json["items"]] == ["by hand"]
    assert {row["action"] for row in api.get("/audit-log", mk(api), action="adjust").json["items"]} == {"adjust"}
    assert api.get("/audit-log", mk(api), action="no_such_action").json == {"items": [], "next_cursor": None}


def test_a_club_reads_only_its_own_tree(api: Api) -> None:
    adjust(api, "a's own")
    seen_by_b = api.get("/audit-log", mk(api, api.b)).json["items"]
    assert "a's own" not in [row["reason"] for row in seen_by_b]
    assert all(row["club_id"] in (api.b.club_id, api.b.sub_club_id) for row in seen_by_b)
    assert all(row["club_id"] in (api.a.club_id, api.a.sub_club_id) for row in api.get("/audit-log", mk(api)).json["items"])
    assert api.get("/audit-log", api.keys_of(api.a)["integration"]).status_code == 403


def test_card_numbers_are_masked_as_stored(api: Api) -> None:
    card = card_number(424242)
    member = api.a.enroll(identifiers=[("card", card)])
    api.service.adjust(api.a.club_id, {"kind": "card", "value": card}, idem_key="masked", account_kind="points", delta=5,
                       actor="cli:ali", reason=f"asked at the desk with card {card}")
    text = api.get("/audit-log", mk(api), actor="cli:ali").get_data(as_text=True)
    assert card not in text and card[-4:] in text
    row = json.loads(text)["items"][0]
    assert row["payload"]["member_id"] == member


def test_the_audit_log_refuses_a_bad_query(api: Api) -> None:
    for query, code, path in (({"cursor": "made-up"}, "invalid_cursor", "cursor"), ({"limit": 0}, "field_invalid", "limit"),
                              ({"action": ""}, "field_invalid", "action"), ({"since": "x"}, "field_invalid", "since")):
        r = api.get("/audit-log", mk(api), **query)
        assert r.status_code == 400 and (r.json["error"]["code"], r.json["error"]["path"]) == (code, path), r.json
