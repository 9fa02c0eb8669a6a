"""Lotteries over the API: opened with a seed commitment, entries won by purchases, drawn by
revealing the seed (a wrong seed draws nothing), winners; another club's lottery is not found."""

from __future__ import annotations

from typing import Any

from kimia.service.admin import Admin
from service.builders import dump, rows

from ..conftest import Api, count
from ..conftest import refused as assert_error


def mk(api: Api, world: Any = None) -> str:
    return api.keys_of(world or api.a)["management"]


def test_a_lottery_opens_with_a_commitment_and_is_listed(api: Api) -> None:
    commitment = Admin.commitment("our secret seed")
    r = api.post("/lotteries", mk(api), {"name_fa": "قرعه‌کشی یلدا", "name_en": "Yalda", "prizes": ["سکه", "کارت هدیه"],
                                         "seed_commitment": commitment})
    assert r.status_code == 201, r.json
    assert (r.json["status"], r.json["seed"], r.json["seed_commitment"], r.json["entries"], r.json["winners"]) == ("open", None, commitment, 0, [])
    assert r.json["club_id"] == api.a.club_id and r.json["drawn"] is None
    assert int(rows(api.service, "SELECT COUNT(*) FROM audit_log WHERE action = 'open_lottery'")[0][0]) >= 1
    listed = api.get("/lotteries", mk(api)).json["items"]
    assert [x["id"] for x in listed] == [api.a.lottery_id, r.json["id"]]
    assert r.json["id"] not in [x["id"] for x in api.get("/lotteries", mk(api, api.b)).json["items"]]
    page = api.get("/lotteries", mk(api), limit=1)
    assert len(page.json["items"]) == 1 and api.get("/lotteries", mk(api), cursor=page.json["next_cursor"]).json["items"][0]["id"] == r.json["id"]


def test_a_sub_clubs_lottery_is_opened_by_naming_it(api: Api) -> None:
    body = {"name_fa": "قرعه شمال", "prizes": ["کتاب"], "seed_commitment": Admin.commitment("n"), "club_id": api.a.sub_club_id}
    r = api.post("/lotteries", mk(api), body)
    assert r.status_code == 201 and r.json["club_id"] == api.a.sub_club_id, r.json
    assert r.json["id"] in [x["id"] for x in api.get("/lotteries", mk(api)).json["items"]]
    before = count(api, "lotteries")
    for other in (api.b.club_id, api.b.sub_club_id, 999_999):
        assert_error(api.post("/lotteries", mk(api), {**body, "club_id": other}), 404, "unknown_club", "club_id")
    assert count(api, "lotteries") == before


def test_opening_a_lottery_refuses_bad_inputs(api: Api) -> None:
    good = {"name_fa": "قرعه", "prizes": ["سکه"], "seed_commitment": Admin.commitment("s")}
    before = count(api, "lotteries")
    for body, path in (({**good, "seed_commitment": good["seed_commitment"].upper()}, "seed_commitment"),
                       ({**good, "seed_commitment": "ab"}, "seed_commitment"), ({**good, "prizes": []}, "prizes"),
                       ({**good, "name_fa": ""}, "name_fa"), ({**good, "seed": "s"}, "seed")):
        assert_error(api.post("/lotteries", mk(api), body), 400, "field_invalid", path)
    assert_error(api.post("/lotteries", mk(api), {"name_fa": "x", "prizes": ["a"]}), 400, "field_required", "seed_commitment")
    assert_error(api.post("/lotteries", api.keys_of(api.a)["integration"], good), 403, "forbidden")
    assert count(api, "lotteries") == before


def test_a_draw_with_the_wrong_seed_draws_nothing_and_the_right_one_draws_once(api: Api) -> None:
    member = api.members[api.a.club_id]
    api.a.buy(member, 3_000_000)  # three entries
    lottery = f"/lotteries/{api.a.lottery_id}"
    seen = api.get(lottery, mk(api)).json
    assert (seen["entries"], seen["entrants"], seen["status"]) == (3, 1, "open")
    before = dump(api.service, ("lotteries", "lottery_winners", "balances"))
    assert_error(api.post(f"{lottery}/draw", mk(api), {"seed": "not the seed"}), 422, "seed_mismatch")
    assert_error(api.post(f"{lottery}/draw", mk(api, api.b), {"seed": api.a.lottery_seed}), 404, "unknown_lottery")
    assert_error(api.post(f"{lottery}/draw", mk(api), {}), 400, "field_required", "seed")
    assert dump(api.service, ("lotteries", "lottery_winners", "balances")) == before
    drawn = api.post(f"{lottery}/draw", mk(api), {"seed": api.a.lottery_seed}, idem="draw-1")
    assert drawn.status_code == 200, drawn.json
    assert drawn.json["status"] == "drawn" and drawn.json["seed"] == api.a.lottery_seed and drawn.json["drawn"]["at_jalali"]
    assert drawn.json["winners"] == [{"rank": 1, "member_id": member, "prize": "سکه طلا"}]  # one entrant: one winner
    replay = api.post(f"{lottery}/draw", mk(api), {"seed": api.a.lottery_seed}, idem="draw-1")
    assert replay.json == drawn.json and replay.headers["Idempotent-Replayed"] == "true"
    assert_error(api.post(f"{lottery}/draw", mk(api), {"seed": api.a.lottery_seed}), 422, "lottery_not_open")
    winners = api.get(f"{lottery}/winners", mk(api))
    assert winners.status_code == 200 and winners.json["items"] == drawn.json["winners"]
    assert count(api, "lottery_winners") == 1


def test_a_lottery_without_entries_is_not_drawn(api: Api) -> None:
    opened = api.post("/lotteries", mk(api), {"name_fa": "خالی", "prizes": ["x"], "seed_commitment": Admin.commitment("e")}).json
    assert_error(api.post(f"/lotteries/{opened['id']}/draw", mk(api), {"seed": "e"}), 422, "no_entries")
    assert api.get(f"/lotteries/{opened['id']}", mk(api)).json["status"] == "open"
    assert api.get(f"/lotteries/{opened['id']}/winners", mk(api)).json == {"items": [], "next_cursor": None}


def test_another_clubs_lottery_is_not_found(api: Api) -> None:
    for path in (f"/lotteries/{api.a.lottery_id}", f"/lotteries/{api.a.lottery_id}/winners", "/lotteries/999999"):
        assert_error(api.get(path, mk(api, api.b) if "999999" not in path else mk(api)), 404, "unknown_lottery")
    assert_error(api.get(f"/lotteries/{api.a.lottery_id}", api.keys_of(api.a)["member"]), 403, "forbidden")
